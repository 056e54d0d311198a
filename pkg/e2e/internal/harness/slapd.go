//go:build e2e

package harness

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LDAPSuffix is the base DN of every test directory.
const LDAPSuffix = "dc=example,dc=org"

// The service account regtoken searches with, which the directory's access
// rules let read people and groups (and nobody else read anything).
const (
	LDAPServiceDN       = "cn=regtoken," + LDAPSuffix
	LDAPServicePassword = "service-secret"
)

// Slapd is an OpenLDAP server (Debian's slapd) started for a test on
// loopback with a database of its own, made with slapadd from an LDIF. It
// serves ldap:// (StartTLS offered) and ldaps:// with a certificate from a
// CA made for the test.
type Slapd struct {
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://localhost:PORT
	CAFile   string // PEM of the CA that signed the server certificate
	dir      string
	conf     string
	ldapPort int
	tlsPort  int
	proc     *Process
}

// slapdConf is the server's configuration: the usual schemas, an MDB
// database, the memberof overlay (which keeps memberOf) and ppolicy (whose
// pwdAccountLockedTime locks an account). %[1]s is the directory of the
// test's server.
const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server.key

database mdb
suffix "` + LDAPSuffix + `"
rootdn "cn=admin,` + LDAPSuffix + `"
rootpw admin-secret
directory %[1]s/db
maxsize 268435456
index objectClass eq
index uid eq
index member eq
overlay memberof
overlay ppolicy
ppolicy_default "cn=default,ou=policies,` + LDAPSuffix + `"
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="` + LDAPServiceDN + `" read by self read by * none
`

// slapdBase is the top of every test directory: the suffix, the people,
// groups and policies units, the password policy that lets
// pwdAccountLockedTime lock an account (and never locks one for failed
// binds), and the service account.
var slapdBase = `dn: ` + LDAPSuffix + `
objectClass: dcObject
objectClass: organization
o: example
dc: example

dn: ou=people,` + LDAPSuffix + `
objectClass: organizationalUnit
ou: people

dn: ou=groups,` + LDAPSuffix + `
objectClass: organizationalUnit
ou: groups

dn: ou=policies,` + LDAPSuffix + `
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,` + LDAPSuffix + `
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 0

dn: ` + LDAPServiceDN + `
objectClass: person
cn: regtoken
sn: service account
userPassword: ` + SSHA(LDAPServicePassword) + `
`

// StartSlapd loads ldif (entries below slapdBase) into a new database and
// starts slapd on two free loopback ports.
func StartSlapd(t testing.TB, ldif string) *Slapd {
	t.Helper()
	dir := ShortDir(t)
	s := &Slapd{dir: dir, conf: filepath.Join(dir, "slapd.conf"), ldapPort: FreePort(t), tlsPort: FreePort(t)}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", s.ldapPort)
	s.LDAPSURL = fmt.Sprintf("ldaps://localhost:%d", s.tlsPort)
	s.CAFile = slapdCertificates(t, dir)
	WriteFile(t, s.conf, fmt.Sprintf(slapdConf, dir), 0o644)
	WriteFile(t, filepath.Join(dir, "data.ldif"), slapdBase+"\n"+ldif, 0o644)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(Tool(t, "slapadd"), "-f", s.conf, "-l", filepath.Join(dir, "data.ldif")).CombinedOutput()
	if err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	s.Start(t)
	return s
}

// Start starts slapd (again) on its database and ports, logging every
// connection and operation (-d stats), and waits until it accepts
// connections.
func (s *Slapd) Start(t testing.TB) {
	t.Helper()
	listen := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.ldapPort, s.tlsPort)
	s.proc = Start(t, "slapd", exec.Command(Tool(t, "slapd"), "-f", s.conf, "-h", listen, "-d", "stats"))
	s.proc.WaitDial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", s.ldapPort), 20*time.Second)
	s.proc.WaitDial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", s.tlsPort), 20*time.Second)
}

// Stop stops slapd; its ports refuse connections until Start.
func (s *Slapd) Stop() { s.proc.Stop(10 * time.Second) }

// Log is what slapd logged since it was last started: one line per
// connection, bind, search and result.
func (s *Slapd) Log() string { return s.proc.Output() }

// SSHA is an OpenLDAP {SSHA} userPassword value of password: SHA-1 of the
// password and a random salt, then the salt.
func SSHA(password string) string {
	salt := make([]byte, 8)
	rand.Read(salt)
	sum := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// LDIFPerson is an inetOrgPerson under ou=people with a password and, as
// the memberof overlay would have written them, the DNs of its groups. extra
// lines (attribute: value) are added as they are.
func LDIFPerson(uid, password string, memberOf []string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n",
		uid, LDAPSuffix, uid, uid, uid, SSHA(password))
	for _, g := range memberOf {
		fmt.Fprintf(&b, "memberOf: %s\n", g)
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String() + "\n"
}

// LDIFGroup is a groupOfNames under ou=groups with its members (users' or
// groups' DNs) and the groups it is in itself.
func LDIFGroup(cn string, members, memberOf []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: %s\n", LDAPGroupDN(cn), cn)
	for _, m := range members {
		fmt.Fprintf(&b, "member: %s\n", m)
	}
	for _, g := range memberOf {
		fmt.Fprintf(&b, "memberOf: %s\n", g)
	}
	return b.String() + "\n"
}

// LDAPUserDN and LDAPGroupDN are the DNs LDIFPerson and LDIFGroup make.
func LDAPUserDN(uid string) string { return "uid=" + uid + ",ou=people," + LDAPSuffix }
func LDAPGroupDN(cn string) string { return "cn=" + cn + ",ou=groups," + LDAPSuffix }

// slapdCertificates makes a CA and a server certificate for localhost and
// 127.0.0.1 signed by it, writes them where slapdConf names them, and
// returns the CA's path.
func slapdCertificates(t testing.TB, dir string) string {
	t.Helper()
	ca := NewTestCA(t, dir, "regtoken test LDAP CA")
	ca.Issue(t, "server", "localhost", "127.0.0.1")
	return ca.Path
}
