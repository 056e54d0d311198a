// Package deploy holds no code: its test checks the shipped replica
// deployments (deploy/replicas, deploy/kubernetes) structurally, as far as
// Go can without a cluster. The end-to-end tests run docker-compose config
// on the compose file and the replicas themselves behind nginx.
package deploy

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/regtoken/regtoken/pkg/config"
)

// documents reads every YAML document of a manifest file.
func documents(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[any]any
		err := dec.Decode(&doc)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, plain(doc).(map[string]any))
	}
}

// plain turns yaml.v2's map[any]any into map[string]any, all the way down.
func plain(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := map[string]any{}
		for k, e := range v {
			m[k.(string)] = plain(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = plain(e)
		}
	}
	return v
}

// at walks a document by keys and list indexes ("spec", "template", 0 ...).
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func byKind(t *testing.T, docs []map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, d := range docs {
		out[d["kind"].(string)] = d
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	k := byKind(t, documents(t, filepath.Join("kubernetes", "regtoken.yaml")))
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		if k[kind] == nil {
			t.Fatalf("regtoken.yaml has no %s", kind)
		}
	}
	dep, svc, pdb := k["Deployment"], k["Service"], k["PodDisruptionBudget"]
	replicas := at(t, dep, "spec", "replicas").(int)
	if replicas != 3 {
		t.Errorf("Deployment replicas %d, want 3", replicas)
	}
	labels := at(t, dep, "spec", "template", "metadata", "labels").(map[string]any)
	for _, sel := range []any{at(t, dep, "spec", "selector", "matchLabels"), at(t, svc, "spec", "selector"), at(t, pdb, "spec", "selector", "matchLabels")} {
		for key, want := range sel.(map[string]any) {
			if labels[key] != want {
				t.Errorf("selector %s=%v does not match the pods' labels %v", key, want, labels)
			}
		}
	}
	if min := at(t, pdb, "spec", "minAvailable").(int); min < 1 || min >= replicas {
		t.Errorf("PodDisruptionBudget minAvailable %d: want 1..%d, so a drain can move a pod but never all", min, replicas-1)
	}
	c := at(t, dep, "spec", "template", "spec", "containers", 0)
	ports := map[string]int{}
	for _, p := range at(t, c, "ports").([]any) {
		ports[at(t, p, "name").(string)] = at(t, p, "containerPort").(int)
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		if path := at(t, c, probe, "httpGet", "path"); path != "/healthz" || at(t, c, probe, "httpGet", "port") != "operator" {
			t.Errorf("%s: %v on port %v, want /healthz on the operator port", probe, path, at(t, c, probe, "httpGet", "port"))
		}
	}
	for _, p := range at(t, svc, "spec", "ports").([]any) {
		if _, ok := ports[at(t, p, "targetPort").(string)]; !ok {
			t.Errorf("Service port %v targets no container port (%v)", p, ports)
		}
	}
	// The configuration in the ConfigMap is valid, listens where the
	// container ports say, and shares a store.
	toml := at(t, k["ConfigMap"], "data", "regtoken.toml").(string)
	cfg, err := config.Parse("/etc/regtoken/regtoken.toml", []byte(toml))
	if err != nil {
		t.Fatalf("the ConfigMap's regtoken.toml: %v", err)
	}
	if cfg.Store == nil || cfg.Operator != "tcp:0.0.0.0:9090" || ports["operator"] != 9090 {
		t.Errorf("store %+v, operator %q, operator port %d", cfg.Store, cfg.Operator, ports["operator"])
	}
	if len(cfg.Listen) != 1 || cfg.Listen[0].Address != "tcp:0.0.0.0:5000" || ports["token"] != 5000 {
		t.Errorf("listen %+v, token port %d", cfg.Listen, ports["token"])
	}
	mounts := map[string]bool{}
	for _, m := range at(t, c, "volumeMounts").([]any) {
		mounts[at(t, m, "mountPath").(string)] = true
	}
	for _, file := range []string{cfg.Token.Key, cfg.Store.SecretFile, cfg.ACL.Users} {
		if !mounts[filepath.Dir(file)] {
			t.Errorf("%s is in no mounted directory (%v)", file, mounts)
		}
	}
	// The store's host is the valkey Service of valkey.yaml.
	v := byKind(t, documents(t, filepath.Join("kubernetes", "valkey.yaml")))
	u, _ := url.Parse(cfg.Store.URL)
	if name := at(t, v["Service"], "metadata", "name"); u.Hostname() != name || u.Port() != "6379" ||
		at(t, v["Service"], "spec", "ports", 0, "port") != 6379 {
		t.Errorf("store url %s does not name the valkey Service %v", cfg.Store.URL, name)
	}
}

// The replicas' compose set-up: a valid configuration with a store, and an
// nginx upstream over the three replicas' listen port.
func TestComposeReplicas(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("replicas", "config", "regtoken.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("/etc/regtoken/regtoken.toml", text)
	if err != nil {
		t.Fatalf("deploy/replicas/config/regtoken.toml: %v", err)
	}
	if cfg.Store == nil || !strings.HasPrefix(cfg.Store.URL, "valkey://valkey:") {
		t.Errorf("store %+v, want the compose file's valkey", cfg.Store)
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(cfg.Listen[0].Address, "tcp:"), ":")
	nginx, err := os.ReadFile(filepath.Join("replicas", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	servers := regexp.MustCompile(`server (regtoken-\d):(\d+)`).FindAllStringSubmatch(string(nginx), -1)
	if len(servers) != 3 {
		t.Fatalf("nginx.conf upstream has %d regtoken servers, want 3", len(servers))
	}
	for _, s := range servers {
		if s[2] != port {
			t.Errorf("nginx sends to %s:%s, regtoken listens on %s", s[1], s[2], port)
		}
	}
}
