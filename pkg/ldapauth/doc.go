// Package ldapauth checks passwords against an LDAP directory (OpenLDAP,
// Active Directory, FreeIPA) and reads the groups of its users, for the
// [ldap] table of regtoken.toml.
//
// A login searches the user's entry with a service account (user_base,
// user_filter) or makes its DN from the name (user_dn), binds as that DN
// with the password, and reads the user's groups: the DNs in its memberOf,
// or a group search (group_base, group_filter), nested groups optionally.
// Groups are named by an attribute (cn) or their DN and mapped to the groups
// of the rules (group_map). Two small pools of connections, one bound as the
// service account for searches and one for the users' binds, keep TLS and
// the service bind off the path of each login; servers are tried in the
// order listed.
//
// Directory implements authn.PasswordSource: package authn calls it only
// when its keyed memory of checked passwords has no answer, applies the
// throttle, and hands the groups to the rules. A directory that cannot
// answer is an error apart from a refusal, so that the caller answers 503,
// not 401, and Health and Stats show it.
//
// What it must not do: let a user name reach a filter or a DN unescaped
// (escape.go), send a bind with an empty password (which directories take
// as an anonymous login), send a client's password anywhere but in the bind
// as the user it names, log a password, decide what a user may do (package
// acl), or read files or the environment: the caller reads the bind password
// and CA files the options name.
package ldapauth
