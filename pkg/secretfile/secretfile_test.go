package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text string
		mode os.FileMode
		want string // the text, or a part of the error
	}{
		{"s3cret\n", 0o600, "s3cret"},
		{"s3cret\r\n", 0o640, "s3cret"},
		{"s3cret\n", 0o604, "x.key: " + dir + "/f is readable by others (mode 0604)"},
		{"\n", 0o600, "is empty"},
	} {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, []byte(c.text), c.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, c.mode) // whatever the umask
		got, err := Text("x.key", path)
		switch {
		case err == nil && got != c.want:
			t.Errorf("%q mode %04o: read %q, want %q", c.text, c.mode, got, c.want)
		case err != nil && !strings.Contains(err.Error(), c.want):
			t.Errorf("%q mode %04o: %v, want %q", c.text, c.mode, err, c.want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	if _, err := Read("x.key", filepath.Join(dir, "none")); err == nil || !strings.HasPrefix(err.Error(), "x.key: ") {
		t.Errorf("missing file: %v", err)
	}
}
