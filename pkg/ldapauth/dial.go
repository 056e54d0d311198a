package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// dial opens a connection to the first of the servers that answers, in the
// order the options list them.
func (d *Directory) dial(ctx context.Context) (*ldap.Conn, error) {
	var errs []error
	for i, raw := range d.opts.URLs {
		c, err := d.dialURL(ctx, raw)
		if err == nil {
			if i > 0 {
				d.noteFailover(raw, errors.Join(errs...))
			}
			return c, nil
		}
		d.stats.DialFailures.Add(1)
		errs = append(errs, fmt.Errorf("%s: %w", raw, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &unavailableError{errors.Join(errs...)}
}

// dialURL connects to one server, with TLS as the options say, within the
// timeout. The deadline covers the handshakes too: a server that accepts
// connections and then says nothing must not hold a login forever.
func (d *Directory) dialURL(ctx context.Context, raw string) (*ldap.Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(d.opts.Timeout)
	dialer := &net.Dialer{Deadline: deadline}
	nc, err := dialer.DialContext(ctx, "tcp", hostPort(u))
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(deadline)
	if u.Scheme == "ldaps" {
		tc := tls.Client(nc, d.tlsConfig(u.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	c := ldap.NewConn(nc, u.Scheme == "ldaps")
	c.Start()
	c.SetTimeout(d.opts.Timeout)
	if d.opts.StartTLS {
		if err := c.StartTLS(d.tlsConfig(u.Hostname())); err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (d *Directory) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: d.roots, MinVersion: tls.VersionTLS12}
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := ldap.DefaultLdapPort
	if u.Scheme == "ldaps" {
		port = ldap.DefaultLdapsPort
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// dialService opens a connection of the service pool: bound as the service
// account, or anonymous without one.
func (d *Directory) dialService(ctx context.Context) (*ldap.Conn, error) {
	c, err := d.dial(ctx)
	if err != nil || d.opts.BindDN == "" {
		return c, err
	}
	if err := c.Bind(d.opts.BindDN, d.bindPassword); err != nil {
		c.Close()
		return nil, &unavailableError{fmt.Errorf("service bind as %s: %w", d.opts.BindDN, err)}
	}
	return c, nil
}
