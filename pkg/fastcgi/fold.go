package fastcgi

import "strings"

// hopByHop lists request headers that describe nginx's connection to the
// client and mean nothing to the handler (nginx has de-chunked the body
// already). The SCGI and uwsgi servers drop the same ones, so a handler
// sees the same headers whatever the transport.
var hopByHop = map[string]bool{
	"HTTP_TRANSFER_ENCODING": true,
	"HTTP_CONNECTION":        true,
	"HTTP_KEEP_ALIVE":        true,
	"HTTP_TE":                true,
	"HTTP_UPGRADE":           true,
	"HTTP_EXPECT":            true,
	"HTTP_PROXY_CONNECTION":  true,
}

// shadowedBy names header copies of CGI variables; RequestFromMap would
// turn both into headers, giving Content-Type two values.
var shadowedBy = map[string]string{
	"HTTP_CONTENT_TYPE":   "CONTENT_TYPE",
	"HTTP_CONTENT_LENGTH": "CONTENT_LENGTH",
}

// foldParams merges repeated names, keeping the order of first appearance.
// nginx before 1.23.0 sends a header that occurs twice as two HTTP_* pairs;
// fcgi stores params in a map and would keep only the last. Repeated HTTP_*
// values are joined with ", " (Cookie with "; ", RFC 6265); for any other
// variable the first value wins, as a repeated CGI variable is a
// configuration mistake, not data.
func foldParams(pairs []pair) []pair {
	present := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		present[p.name] = true
	}
	index := make(map[string]int, len(pairs))
	out := make([]pair, 0, len(pairs))
	for _, p := range pairs {
		if hopByHop[p.name] || present[shadowedBy[p.name]] {
			continue
		}
		i, seen := index[p.name]
		switch {
		case !seen:
			index[p.name] = len(out)
			out = append(out, p)
		case strings.HasPrefix(p.name, "HTTP_"):
			out[i].value += separator(p.name) + p.value
		}
	}
	return out
}

func separator(name string) string {
	if name == "HTTP_COOKIE" {
		return "; "
	}
	return ", "
}
