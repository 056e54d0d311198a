// Package httpfront serves an http.Handler over plain HTTP, for nginx's
// proxy_pass (usually on a unix socket). It is net/http.Server with the
// settings a service behind a proxy wants: bounded header size and read
// time, graceful Shutdown, a Content-Length on every response, and the
// client address taken from the proxy's X-Real-IP / X-Forwarded-For headers
// when, and only when, the listener is trusted to carry them.
//
// On a unix socket r.RemoteAddr is "@", so without TrustProxyHeaders the
// handler cannot know the client; with it, a client that can reach the
// listener directly can claim any address. Only set it for a listener that
// nothing but the proxy can connect to.
//
// The package must not know anything about tokens, must not read
// configuration on its own, and must never log request headers.
package httpfront
