package listen

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Raw clients for the four protocols, so that tests can talk to a Group
// without nginx. Each sends one request and returns status and body.

type cgiVar struct{ name, value string }

func cgiVars(method, uri string) []cgiVar {
	path, query, _ := strings.Cut(uri, "?")
	return []cgiVar{
		{"REQUEST_METHOD", method}, {"REQUEST_URI", uri}, {"QUERY_STRING", query},
		{"DOCUMENT_URI", path}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REMOTE_ADDR", "127.0.0.1"},
		{"REMOTE_PORT", "40000"}, {"SERVER_NAME", "reg.example"}, {"HTTP_HOST", "reg.example"},
	}
}

func scgiRequest(method, uri, body string) []byte {
	var head bytes.Buffer
	length := cgiVar{"CONTENT_LENGTH", strconv.Itoa(len(body))}
	for _, v := range append([]cgiVar{length, {"SCGI", "1"}}, cgiVars(method, uri)...) {
		head.WriteString(v.name + "\x00" + v.value + "\x00")
	}
	return fmt.Appendf(nil, "%d:%s,%s", head.Len(), head.Bytes(), body)
}

func uwsgiRequest(method, uri, body string) []byte {
	var vars []byte
	for _, v := range append([]cgiVar{contentLength(body)}, cgiVars(method, uri)...) {
		vars = binary.LittleEndian.AppendUint16(vars, uint16(len(v.name)))
		vars = append(vars, v.name...)
		vars = binary.LittleEndian.AppendUint16(vars, uint16(len(v.value)))
		vars = append(vars, v.value...)
	}
	head := binary.LittleEndian.AppendUint16([]byte{0}, uint16(len(vars)))
	return append(append(append(head, 0), vars...), body...)
}

// contentLength is CONTENT_LENGTH as nginx sends it to uwsgi and FastCGI:
// empty when there is no body.
func contentLength(body string) cgiVar {
	if body == "" {
		return cgiVar{"CONTENT_LENGTH", ""}
	}
	return cgiVar{"CONTENT_LENGTH", strconv.Itoa(len(body))}
}

func fcgiRecord(typ byte, content []byte) []byte {
	b := []byte{1, typ, 0, 1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(content)))
	return append(append(b, 0, 0), content...)
}

func fcgiRequest(method, uri, body string) []byte {
	var params []byte
	for _, v := range append([]cgiVar{contentLength(body), {"SCRIPT_NAME", uri}}, cgiVars(method, uri)...) {
		params = append(params, byte(len(v.name)), byte(len(v.value)))
		params = append(params, v.name+v.value...)
	}
	b := fcgiRecord(1, []byte{0, 1, 0, 0, 0, 0, 0, 0}) // BEGIN_REQUEST, responder
	b = append(b, fcgiRecord(4, params)...)
	b = append(b, fcgiRecord(4, nil)...)
	for len(body) > 0 { // STDIN records of at most 64 KiB - 1
		n := min(len(body), 0xffff)
		b = append(b, fcgiRecord(5, []byte(body[:n]))...)
		body = body[n:]
	}
	return append(b, fcgiRecord(5, nil)...)
}

// readFCGIStdout collects STDOUT records until END_REQUEST.
func readFCGIStdout(r io.Reader) ([]byte, error) {
	var out []byte
	for {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(h[4:6]))
		content := make([]byte, n+int(h[6]))
		if _, err := io.ReadFull(r, content); err != nil {
			return nil, err
		}
		switch h[1] {
		case 6:
			out = append(out, content[:n]...)
		case 3:
			return out, nil
		}
	}
}

// parseCGIHead reads a "Status: NNN" style response.
func parseCGIHead(raw []byte) (int, string, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return 0, "", err
	}
	code, _, _ := strings.Cut(h.Get("Status"), " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		return 0, "", fmt.Errorf("no Status header in %q", raw)
	}
	body, err := io.ReadAll(tp.R)
	return status, string(body), err
}

// rawGet sends one GET for uri over network/address in protocol proto.
func rawGet(proto, network, address, uri string) (int, string, error) {
	return rawRequest(proto, network, address, "GET", uri, "")
}

// rawRequest sends one request over network/address in protocol proto.
func rawRequest(proto, network, address, method, uri, body string) (int, string, error) {
	conn, err := net.DialTimeout(network, address, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	switch proto {
	case SCGI:
		conn.Write(scgiRequest(method, uri, body))
		raw, err := io.ReadAll(conn)
		if err != nil {
			return 0, "", err
		}
		return parseCGIHead(raw)
	case UWSGI:
		conn.Write(uwsgiRequest(method, uri, body))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, "", err
		}
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	case FastCGI:
		conn.Write(fcgiRequest(method, uri, body))
		raw, err := readFCGIStdout(conn)
		if err != nil {
			return 0, "", err
		}
		return parseCGIHead(raw)
	case HTTP:
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: reg.example\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
			method, uri, len(body), body)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, "", err
		}
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	return 0, "", fmt.Errorf("no client for %q", proto)
}
