package oidc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
)

// lookup finds a claim by path. A path's dots step into nested objects, but
// claim names may hold dots themselves (Kubernetes puts its claims under
// "kubernetes.io"), so at each level the longest name that exists wins:
// "kubernetes.io.namespace" is claims["kubernetes.io"]["namespace"].
func lookup(claims map[string]any, path string) (any, bool) {
	for i := len(path); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		v, ok := claims[path[:i]]
		if !ok {
			continue
		}
		if i == len(path) {
			return v, true
		}
		if nested, isObject := v.(map[string]any); isObject {
			if found, ok := lookup(nested, path[i+1:]); ok {
				return found, true
			}
		}
	}
	return nil, false
}

// scalar returns a string, number or boolean claim as text.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// matchClaim reports whether the claim at path has a value matching one of
// the accepted patterns. A list claim (groups, aud) matches when one of its
// elements does. In a pattern "*" is any run of characters, "/" included,
// as cloud trust policies match these claims ("repo:acme/*").
func matchClaim(claims map[string]any, path string, accepted []string) bool {
	v, ok := lookup(claims, path)
	if !ok {
		return false
	}
	values := []any{v}
	if list, isList := v.([]any); isList {
		values = list
	}
	for _, value := range values {
		s, ok := scalar(value)
		if !ok {
			continue
		}
		for _, pattern := range accepted {
			if acl.MatchGlob(pattern, s) {
				return true
			}
		}
	}
	return false
}

// ReadClaims reads claims for explain: a JSON object, or a JWT whose payload
// is decoded without any check (explain shows what a token would get if it
// were genuine; it proves nothing about the token).
func ReadClaims(data []byte) (map[string]any, error) {
	text := strings.TrimSpace(string(data))
	if LooksLikeJWT(text) {
		_, rest, _ := strings.Cut(text, ".")
		payload, _, _ := strings.Cut(rest, ".")
		b, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			return nil, fmt.Errorf("the token's payload is not base64url: %w", err)
		}
		text = string(b)
	}
	claims, err := parseClaims([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("not a JSON object of claims, nor a JWT: %w", err)
	}
	return claims, nil
}
