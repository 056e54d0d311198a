package robot

import (
	"crypto/rand"
	"hash/crc32"
	"strings"
)

// base62 is the alphabet of secrets: letters and digits only, so a secret
// is one word to a double-click and needs no quoting in YAML or a shell.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const (
	secretRandomChars   = 40 // 40 × log2(62) ≈ 238 bits
	secretChecksumChars = 6
)

// NewSecret returns a new random secret: SecretPrefix, 40 random letters and
// digits, and six more that encode a CRC-32 of them, so a scanner can tell
// a real secret from a string that merely looks like one without asking us.
func NewSecret() string {
	var b strings.Builder
	b.WriteString(SecretPrefix)
	body := randomBase62(secretRandomChars)
	b.WriteString(body)
	b.WriteString(encodeBase62(uint64(crc32.ChecksumIEEE([]byte(body))), secretChecksumChars))
	return b.String()
}

// LooksLikeSecret reports whether s has a secret's shape and checksum.
func LooksLikeSecret(s string) bool {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok || len(rest) != secretRandomChars+secretChecksumChars {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return false
		}
	}
	body, sum := rest[:secretRandomChars], rest[secretRandomChars:]
	return encodeBase62(uint64(crc32.ChecksumIEEE([]byte(body))), secretChecksumChars) == sum
}

// randomBase62 draws n characters uniformly: bytes of 248 and up are
// dropped, so that every character is as likely as another.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < 248 && len(out) < n {
				out = append(out, base62[c%62])
			}
		}
	}
	return string(out)
}

// encodeBase62 writes v in width base-62 digits (62^6 > 2^32).
func encodeBase62(v uint64, width int) string {
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// randomBytes returns n random bytes. crypto/rand.Read never fails since
// Go 1.24.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
