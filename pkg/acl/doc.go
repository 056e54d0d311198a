// Package acl loads users and repository rules (the original service's
// users.json and repositories.json, plus patterns, groups and htpasswd users)
// and decides which actions a subject gets on a resource.
//
// It must not do I/O after Load, check passwords, parse scopes or build
// tokens: the request flows endpoint -> authentication -> rules -> token, and
// this package is only the "rules" step. A loaded *Rules is immutable and safe
// for concurrent use; to reload, Load again and swap the pointer.
//
// # Files
//
// users.json maps a user name to {"pass_hash", "repositories", "groups",
// "catalog", "tokens_not_before"}; only "repositories" and "pass_hash" existed
// in the original, and files written for it keep their meaning. "repositories"
// maps a key (a repository name or pattern) to a list of actions: "pull",
// "push", "delete" or "*" (every action). An empty list is an explicit deny.
//
// repositories.json is {"backlist": bool, "repositories": [patterns]}
// ("blacklist" is accepted too). With backlist false the list names what
// anyone, logged in or not, may pull; with backlist true anyone may pull every
// repository except those listed.
//
// The optional groups file maps a group name to {"repositories", "catalog"};
// users join groups with "groups": [names]. The optional htpasswd file adds
// users with bcrypt hashes (htpasswd -B); their rules are the users.json entry
// of the same name, which then must not have its own pass_hash.
//
// # Patterns
//
// A key without "*" is an exact repository name. A bare "*" matches every
// name, nested ones too (as in the original). Elsewhere "*" matches any run
// of characters inside one path component ("team/*" matches "team/app", not
// "team/app/cache"), and a whole component "**" matches one or more components
// ("team/**" matches both). "${user}" stands for the logged-in user's name
// ("${user}/*"); it never matches for anonymous subjects and may not be used
// in repositories.json.
//
// Specificity, used to pick the rule that decides: an exact name is the most
// specific; then a pattern with a longer literal prefix (the text before the
// first "*", after "${user}" is replaced) beats a shorter one; a bare "*" is
// the least specific.
//
// # Decision table
//
// Decide(subject, type, name, requested) works in this order:
//
//  1. Type "registry", name "catalog": the grant is ["*"], whatever was
//     requested, if the user or one of its groups has "catalog": true, or if
//     Files.AnonymousCatalog is set (then for everyone). Otherwise nothing.
//     (The original gave the catalog to everyone; we deliberately don't.)
//     Type "repository" with an empty name is how zot asks for its catalog:
//     the same right grants "pull" there (and nothing else).
//  2. Any other type except "repository", and repository names outside
//     the distribution grammar: nothing is granted.
//  3. Own rules: collect the keys of the user and of each of its groups
//     ("${user}" replaced by the user's name); anonymous subjects have none.
//     Among the keys matching the name, only the most specific count. If any
//     of those is an explicit deny (empty list), the own result is a deny;
//     otherwise it is the union of their actions (user's and groups' alike).
//  4. Public rules from repositories.json, ranked the same way. Whitelist: each
//     listed pattern allows pull. Blacklist: a bare "*" allows pull and each
//     listed pattern removes it (a listed name is simply not public).
//  5. Combining them, public pull is a floor that applies to everyone:
//     - no own rule matched: the public result decides;
//     - own rules allow: public pull (if any) is added to their actions;
//     - own rules deny: the deny stands, unless a public rule allowing the
//     name is strictly more specific (a public exact name beats "*": []);
//     - a blacklist listing never takes away what own rules allow.
//  6. Grant = requested ∩ allowed, in the requested order, without
//     duplicates. A rule action "*" allows every action. A requested "*" is
//     granted as the concrete allowed actions (pull, push, delete), followed
//     by "*" when "*" is allowed: distribution reads "*" as any action, zot
//     knows no wildcard and checks pull, push and delete one by one.
//  7. Nothing matched at all: nothing is granted.
//
// Every Decision names the rule that decided (file, owner, key) so an
// operator can see why: `repository:foo:push -> [] (users.json: user foo,
// key "some-image")`.
//
// The one departure from the original files' meaning: the original used a
// user's exact key, else its "*" key, else the public list, so a user's
// "*": [] also hid public repositories; here an exact public name wins. And a
// user's own actions are now united with public pull instead of replacing it.
package acl
