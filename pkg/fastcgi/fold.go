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

// normalizeParams prepares the variables for fcgi's cgi.RequestFromMap the
// way the SCGI and uwsgi servers (package gateway) prepare theirs.
//
// Repeated names are merged, keeping the order of first appearance: nginx
// before 1.23.0 sends a header that occurs twice as two HTTP_* pairs, and
// fcgi stores params in a map that would keep only the last. Repeated
// HTTP_* values are joined with ", " (Cookie with "; ", RFC 6265); for any
// other variable the later value wins, as a later fastcgi_param line
// overrides an included one.
//
// A missing SERVER_PROTOCOL becomes HTTP/1.1 and a missing HTTP_HOST
// becomes SERVER_NAME; RequestFromMap fails without the first and leaves
// r.Host empty without the second.
func normalizeParams(pairs []pair) []pair {
	present := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		present[p.name] = p.value != "" || present[p.name]
	}
	index := make(map[string]int, len(pairs))
	out := make([]pair, 0, len(pairs)+2)
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
		default:
			out[i].value = p.value
		}
	}
	out = setDefault(out, index, "SERVER_PROTOCOL", "HTTP/1.1")
	return setDefault(out, index, "HTTP_HOST", valueOf(out, index, "SERVER_NAME"))
}

// setDefault gives name the value def when it is missing or empty.
func setDefault(pairs []pair, index map[string]int, name, def string) []pair {
	i, ok := index[name]
	switch {
	case def == "":
	case !ok:
		index[name] = len(pairs)
		pairs = append(pairs, pair{name, def})
	case pairs[i].value == "":
		pairs[i].value = def
	}
	return pairs
}

func valueOf(pairs []pair, index map[string]int, name string) string {
	if i, ok := index[name]; ok {
		return pairs[i].value
	}
	return ""
}

func separator(name string) string {
	if name == "HTTP_COOKIE" {
		return "; "
	}
	return ", "
}
