package gateway

import (
	"log/slog"
	"net/http"

	"github.com/regtoken/regtoken/pkg/limits"
)

// Config is what every transport needs to serve: the handler, the limits,
// where to log and what to count. SCGI, uwsgi and FastCGI get it through
// [NewServer] and [NewSessionServer]; HTTP, whose server comes from the
// standard library, applies it with [Config.LimitListener] and
// [Config.WrapHandler], so all four enforce the same limits with the same
// code.
type Config struct {
	Handler  http.Handler     // nil means http.DefaultServeMux
	Limits   limits.Transport // zero fields take the defaults of package limits
	ErrorLog *slog.Logger     // nil means slog.Default()
	Stats    *Stats           // counts refused requests by reason; nil: counted privately
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Handler == nil {
		c.Handler = http.DefaultServeMux
	}
	c.Limits = c.Limits.WithDefaults()
	if c.ErrorLog == nil {
		c.ErrorLog = slog.Default()
	}
	if c.Stats == nil {
		c.Stats = new(Stats)
	}
	return c
}
