package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/token"
)

// A refresh token is what `docker login` stores instead of the password. It
// is a JWT with an HMAC-SHA256 signature under a key derived from the
// access tokens' signing key (token.MACSigner), so every regtoken instance
// holding that key accepts it without shared storage, and it is never
// rotated: docker drops a new one during pulls (moby/moby#39718).
//
// It must never pass as an access token, nor an access token as a refresh
// token. No registry can verify an HMAC with the public key it holds, so
// none accepts a refresh token, zot included, which checks neither aud nor
// iss. Its aud is refreshAudiencePrefix+service all the same, and it carries
// no "access" claim. The other way round, an access token is signed with
// the private key, has no token_use claim, and its aud is the bare service.
//
// Refresh tokens of earlier regtoken versions were signed with the access
// tokens' key, and zot's /v2/ check let them through. They are accepted
// until they expire while Source.LegacyRefresh is set (the default, so
// that nobody must log in again on upgrade), and refused with a message
// that says to log in again once it is not.
//
// Revocation needs no database. The token carries fp, a fingerprint of the
// user's current bcrypt hash; changing the password or removing the user
// changes or removes the hash, and the token no longer matches. An
// operator revokes every refresh token of a user at once with
// "tokens_not_before" in users.json: tokens issued before it are refused.

// refreshAudiencePrefix makes a refresh token's aud differ from every
// service name, so registries refuse it as a bearer token.
const refreshAudiencePrefix = "regtoken-refresh:"

// tokenUseRefresh marks a refresh token's payload.
const tokenUseRefresh = "refresh"

// defaultRefreshLifetime applies when the Source leaves RefreshLifetime zero.
const defaultRefreshLifetime = 90 * 24 * time.Hour

// refreshClaims is the payload of a refresh token.
type refreshClaims struct {
	Use         string `json:"token_use"` // always "refresh"
	Issuer      string `json:"iss"`
	Subject     string `json:"sub"`
	Audience    string `json:"aud"` // refreshAudiencePrefix + service
	Expiration  int64  `json:"exp"`
	IssuedAt    int64  `json:"iat"`
	JWTID       string `json:"jti"` // logged, so an operator can trace one token
	Fingerprint string `json:"fp"`  // see fingerprint
}

// Refresh is the refresh token handed out along with an access token.
type Refresh struct {
	Token string // "" for none
	ID    string // its jti, which a log may show (never the token)
	New   bool   // signed now, rather than the one the caller presented
}

// RefreshFor returns the refresh token to hand id along with a token for
// service: the one it presented (refresh tokens are never rotated), a new
// one after a password check, and none for anonymous callers, who have
// nothing to refresh, or with refresh tokens off. Machines get none either:
// an ID token expires within the hour and must not buy a longer login, and
// a robot's secret is checked as fast as a refresh token would be.
//
// A password whose hash the files do not hold (a directory's) gets none
// either: a refresh token is revoked by a change of that hash, which a
// directory does not show, so its users keep sending the password, and each
// check goes through the Verifier's memory to the directory.
func (a *Authenticator) RefreshFor(src *Source, id *Identity, service string) (Refresh, error) {
	switch {
	case !src.Refresh || (id.Method != Password && id.Method != RefreshToken) || id.Name == "":
		return Refresh{}, nil
	case id.refresh != "":
		return Refresh{Token: id.refresh, ID: id.RefreshID}, nil
	case len(id.passHash) == 0:
		return Refresh{}, nil
	}
	jwt, claims, err := a.newRefreshToken(src, id.Name, id.passHash, service)
	if err != nil {
		return Refresh{}, err
	}
	return Refresh{Token: jwt, ID: claims.JWTID, New: true}, nil
}

// refreshIdentity authenticates by a refresh token, for service.
func (a *Authenticator) refreshIdentity(src *Source, jwt, service string) (Identity, error) {
	id := Identity{Method: RefreshToken}
	if !src.Refresh {
		return id, errRefreshInvalid
	}
	u, claims, err := a.checkRefreshToken(src, jwt, service)
	if claims != nil { // signed by us: worth naming even when refused
		id.Name, id.RefreshID = claims.Subject, claims.JWTID
	}
	if err != nil {
		return id, err
	}
	id.Groups, id.passHash, id.refresh = u.Groups, u.PassHash, jwt
	return id, nil
}

// newRefreshToken signs a refresh token for user, whose password matched
// passHash, bound to service.
func (a *Authenticator) newRefreshToken(src *Source, user string, passHash []byte, service string) (string, *refreshClaims, error) {
	now := a.now()
	c := &refreshClaims{
		Use:         tokenUseRefresh,
		Issuer:      src.Issuer,
		Subject:     user,
		Audience:    refreshAudiencePrefix + service,
		Expiration:  now.Add(refreshLifetime(src)).Unix(),
		IssuedAt:    now.Unix(),
		JWTID:       newRefreshID(),
		Fingerprint: fingerprint(user, passHash),
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", nil, err
	}
	if src.RefreshMAC == nil {
		return "", nil, errNoRefreshKey
	}
	jwt, err := src.RefreshMAC.SignJSON(payload)
	return jwt, c, err
}

// checkRefreshToken returns the user a refresh token speaks for, if it was
// signed by our key, is a refresh token, is for service, has not expired,
// and still matches the user's entry in the current users. It never runs
// bcrypt: that is the point of refresh tokens.
//
// The claims come back whenever the token is a genuine refresh token of
// ours, even when it is refused (expired, revoked, other service), so a log
// can say whose token it was.
func (a *Authenticator) checkRefreshToken(src *Source, jwt, service string) (acl.User, *refreshClaims, error) {
	payload, legacy, err := verifyRefresh(src, jwt)
	if err != nil {
		return acl.User{}, nil, errRefreshInvalid
	}
	var c refreshClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return acl.User{}, nil, errRefreshInvalid
	}
	switch {
	case c.Use != tokenUseRefresh:
		return acl.User{}, nil, errNotRefreshToken
	case c.Issuer != src.Issuer || c.Subject == "":
		return acl.User{}, nil, errRefreshInvalid
	case c.Audience != refreshAudiencePrefix+service:
		return acl.User{}, &c, errRefreshService
	case a.now().Unix() >= c.Expiration:
		return acl.User{}, &c, errRefreshExpired
	}
	u, ok := src.Users.User(c.Subject)
	switch {
	case !ok || !stillValid(u, &c) || a.revokedInStore(&c):
		return acl.User{}, &c, errRefreshRevoked
	case legacy && !src.LegacyRefresh:
		return acl.User{}, &c, errRefreshLegacy
	}
	return u, &c, nil
}

// revokedInStore reports whether `regtoken user revoke` revoked c's user
// after, or in the second that, c was issued (iat has whole seconds only).
func (a *Authenticator) revokedInStore(c *refreshClaims) bool {
	at := a.shared.RevokedAt(c.Subject)
	return !at.IsZero() && c.IssuedAt <= at.Unix()
}

// verifyRefresh checks the signature of a refresh token: the MAC of this
// version, or the access-token key's signature of an earlier one (legacy),
// which is checked even when LegacyRefresh is off so that the refusal can
// name the user and say why.
func verifyRefresh(src *Source, jwt string) (payload []byte, legacy bool, err error) {
	if token.IsMACToken(jwt) {
		if src.RefreshMAC == nil {
			return nil, false, errNoRefreshKey
		}
		payload, err = src.RefreshMAC.Verify(jwt)
		return payload, false, err
	}
	payload, err = src.Signer.Verify(jwt)
	return payload, true, err
}

// stillValid reports whether the user's current entry still vouches for c:
// same password hash, and c not issued before the user's tokens_not_before.
func stillValid(u acl.User, c *refreshClaims) bool {
	if len(u.PassHash) == 0 {
		return false
	}
	want := fingerprint(u.Name, u.PassHash)
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Fingerprint)) != 1 {
		return false
	}
	return u.TokensNotBefore.IsZero() || c.IssuedAt >= u.TokensNotBefore.Unix()
}

// fingerprint identifies the password hash a refresh token was issued
// against. It needs no key: the token's signature already stops anyone from
// choosing it, and it is a one-way digest of a salted bcrypt hash, so it
// tells the token's holder nothing about the password. Leaving it unkeyed
// means instances sharing the signing key need no other shared secret.
// 96 bits make an accidental match after a password change negligible.
func fingerprint(user string, passHash []byte) string {
	h := sha256.New()
	h.Write([]byte("regtoken refresh fingerprint v1\x00"))
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write(passHash)
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func refreshLifetime(src *Source) time.Duration {
	if src.RefreshLifetime > 0 {
		return src.RefreshLifetime
	}
	return defaultRefreshLifetime
}

// newRefreshID returns 128 random bits. crypto/rand.Read never fails since
// Go 1.24.
func newRefreshID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
