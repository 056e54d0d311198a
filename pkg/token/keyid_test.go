package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// jwtMDKey is the example EC key of distribution's docs/content/spec/auth/jwt.md.
func jwtMDKey(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	x, err := base64.RawURLEncoding.DecodeString("m7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q")
	if err != nil {
		t.Fatal(err)
	}
	y, err := base64.RawURLEncoding.DecodeString("dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestKeyIDVectors(t *testing.T) {
	pub := jwtMDKey(t)
	tests := []struct {
		format KeyIDFormat
		want   string
	}{
		// The kid printed in jwt.md, which registry 2.8 computes from the key.
		{KeyIDLibtrust, "PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6"},
		{KeyIDThumbprint, "8qjioA3ZA7ti2JIE7c-U8smBFuZolQZvhSHDPU3hhB8"},
	}
	for _, tt := range tests {
		got, err := KeyID(pub, tt.format)
		if err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		if got != tt.want {
			t.Errorf("%s key ID = %q, want %q", tt.format, got, tt.want)
		}
	}
	if _, err := KeyID(pub, "sha1"); !errors.Is(err, ErrUnknownKeyIDFormat) {
		t.Errorf("unknown format: error = %v, want ErrUnknownKeyIDFormat", err)
	}
}

// jwxThumbprint is the standard RFC 7638 thumbprint, as jwx computes it.
func jwxThumbprint(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	k, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

func TestThumbprintRSA(t *testing.T) {
	pub := rsaKey(t, 2048).Public()
	got, err := ThumbprintKeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := jwxThumbprint(t, pub); got != want {
		t.Fatalf("RSA thumbprint = %q, jwx says %q", got, want)
	}
}

// TestThumbprintECUnpadded pins the distribution v3.1 quirk: EC coordinates
// are encoded without leading zero bytes. For keys without such a byte the
// result is standard RFC 7638; for the others it must differ from jwx's.
func TestThumbprintECUnpadded(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		var plain, short *ecdsa.PublicKey
		for i := 0; (plain == nil || short == nil) && i < 5000; i++ {
			pub := &ecKey(t, curve).PublicKey
			x, y, err := ecCoordinates(pub, false)
			if err != nil {
				t.Fatal(err)
			}
			size := (curve.Params().BitSize + 7) / 8
			if len(x) < size || len(y) < size {
				short = pub
			} else {
				plain = pub
			}
		}
		if plain == nil || short == nil {
			t.Fatalf("%s: could not generate both kinds of key", curve.Params().Name)
		}
		got, err := ThumbprintKeyID(plain)
		if err != nil {
			t.Fatal(err)
		}
		if want := jwxThumbprint(t, plain); got != want {
			t.Errorf("%s thumbprint = %q, jwx says %q", curve.Params().Name, got, want)
		}
		got, err = ThumbprintKeyID(short)
		if err != nil {
			t.Fatal(err)
		}
		padded := jwxThumbprint(t, short)
		if got == padded {
			t.Errorf("%s key with a leading zero coordinate byte: thumbprint %q is the padded one", curve.Params().Name, got)
		}
		if std, err := RFC7638Thumbprint(short); err != nil || std != padded {
			t.Errorf("%s key with a leading zero coordinate byte: RFC 7638 thumbprint = %q, %v; jwx says %q", curve.Params().Name, std, err, padded)
		}
		if std, err := RFC7638Thumbprint(plain); err != nil || std != jwxThumbprint(t, plain) {
			t.Errorf("%s: RFC 7638 thumbprint = %q, %v; jwx says %q", curve.Params().Name, std, err, jwxThumbprint(t, plain))
		}
	}
}

func TestKeyIDUnsupported(t *testing.T) {
	if _, err := ThumbprintKeyID(ed25519.PublicKey{1, 2, 3}); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("thumbprint of a 3-byte Ed25519 key: error = %v, want ErrUnsupportedKey", err)
	}
	if _, err := RFC7638Thumbprint("not a key"); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("RFC 7638 thumbprint of a string: error = %v, want ErrUnsupportedKey", err)
	}
	if _, err := ThumbprintKeyID(&ecKey(t, elliptic.P224()).PublicKey); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("thumbprint of P-224: error = %v, want ErrUnsupportedKey", err)
	}
	if _, err := LibtrustKeyID("not a key"); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("libtrust ID of a string: error = %v, want ErrUnsupportedKey", err)
	}
}
