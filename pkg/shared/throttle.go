package shared

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regtoken/regtoken/pkg/throttle"
)

// Each throttle key is a hash with the fields c (failures, decayed from s),
// s (when decay starts, Unix ms) and u (blocked until, Unix ms), as in
// package throttle's own table; the server's clock is the only one used,
// so replicas whose clocks differ agree.
//
// admitScript runs one uncached password check's admission:
// KEYS = address, pair, wrong-password memory;
// ARGV = pair threshold, address threshold, base delay, max delay, decay
// (ms), key lifetime past a block (ms), look for a repeat (1/0).
// It returns {verdict, wait ms, blocked}: verdict 0 admitted (and counted
// as a failure on both keys), 1 blocked (blocked: 1 address, 2 pair, 3
// both), 2 the same wrong password was refused a moment ago.
var admitScript = redis.NewScript(luaCommon + `
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {2, 0, 0} end
local now = clock()
local au = tonumber(redis.call('HGET', KEYS[1], 'u')) or 0
local pu = tonumber(redis.call('HGET', KEYS[2], 'u')) or 0
if au > now or pu > now then
  local which = 0
  if au > now then which = which + 1 end
  if pu > now then which = which + 2 end
  return {1, math.max(au, pu) - now, which}
end
fail(KEYS[2], tonumber(ARGV[1]), now)
fail(KEYS[1], tonumber(ARGV[2]), now)
return {0, 0, 0}
`)

// giveBackScript takes back the failure an admission counted: the check
// found a right password (ARGV[1] = 1: the pair is forgotten, as after
// any success) or nothing (the client left). A block that the counted
// failure started ends with it. KEYS = address, pair; ARGV as for
// admitScript, the last one 1 for a right password.
var giveBackScript = redis.NewScript(luaCommon + `
local now = clock()
if ARGV[7] == '1' then redis.call('DEL', KEYS[2]) else unfail(KEYS[2], tonumber(ARGV[1]), now) end
unfail(KEYS[1], tonumber(ARGV[2]), now)
return 0
`)

// luaCommon is what both scripts share: the policy (ARGV 3 to 6), the
// server's clock, and counting a failure in and out of a key.
const luaCommon = `
local base, maxd, decay, life = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function load(k, now)
  local v = redis.call('HMGET', k, 'c', 's', 'u')
  local c, s, u = tonumber(v[1]) or 0, tonumber(v[2]) or now, tonumber(v[3]) or 0
  if now > s then c = c * math.pow(2, -(now - s) / decay) end
  return c, u
end
local function save(k, c, s, u, now)
  redis.call('HSET', k, 'c', tostring(c), 's', s, 'u', u)
  redis.call('PEXPIRE', k, math.max(u - now, 0) + life)
end
local function fail(k, thr, now)
  if thr <= 0 then return end
  local c, u = load(k, now)
  c = c + 1
  local s = math.max(now, u)
  if c + 0.01 >= thr then
    local d = base
    for i = 1, math.floor(c + 0.01) - thr do
      if d >= maxd then break end
      d = d * 2
    end
    u = math.max(u, now + math.min(d, maxd))
    s = u
  end
  save(k, c, s, u, now)
end
local function unfail(k, thr, now)
  if thr <= 0 or redis.call('EXISTS', k) == 0 then return end
  local c, u = load(k, now)
  c = math.max(0, c - 1)
  if c + 0.01 < thr and u > now then u = 0 end
  save(k, c, math.max(now, u), u, now)
end
`

// loadScripts loads the scripts into the store's script cache, so that a
// login's first EVALSHA finds them (otherwise go-redis sends EVAL after a
// NOSCRIPT answer: a second round trip). A store that restarts empty
// costs that once again per script.
func (s *Store) loadScripts() {
	for _, sc := range []*redis.Script{admitScript, giveBackScript} {
		s.do(func(ctx context.Context) error { return sc.Load(ctx, s.client).Err() })
	}
}

// Verdict is what the store said about a password check.
type Verdict struct {
	// Wait > 0: a key is blocked (PairBlocked, AddressBlocked say which);
	// nothing was counted.
	Wait           time.Duration
	PairBlocked    bool
	AddressBlocked bool
	// Repeat: the same wrong password was refused a moment ago, on some
	// replica; nothing was counted.
	Repeat bool
}

// Login names one password check in the store: its keys, and the policy
// they follow. Make it with Store.Login.
type Login struct {
	addr, pair, wrong string
	policy            throttle.Policy
}

// Login returns the store's keys for a check of password against hash
// (nil: none known) by user at client, under policy (defaults filled).
// The wrong-password memory is keyed by user, hash and password: a
// changed hash forgets it.
func (s *Store) Login(user, client string, hash []byte, password string, policy throttle.Policy) Login {
	addr := s.hash("address", throttle.AddressID(client))
	return Login{
		addr:   keyPrefix + "t:a:" + addr,
		pair:   keyPrefix + "t:p:" + s.hash("pair", []byte(user), []byte(addr)),
		wrong:  keyPrefix + "w:" + s.hash("wrong", []byte(user), hash, []byte(password)),
		policy: policy,
	}
}

// Admit asks the store to admit l's check, in one round trip: refused
// while l's address or pair is blocked, answered as a repeat when the same
// wrong password was refused lately (repeats: look for one), and otherwise
// counted as a failure until GiveBack. An error means no answer: the
// caller applies the policy.
func (s *Store) Admit(l Login, repeats bool) (Verdict, error) {
	var res []int64
	err := s.login(func(ctx context.Context) (err error) {
		res, err = admitScript.Run(ctx, s.client, []string{l.addr, l.pair, l.wrong}, policyArgs(l.policy, repeats)...).Int64Slice()
		return err
	})
	if err != nil || len(res) != 3 {
		return Verdict{}, err
	}
	return Verdict{Wait: time.Duration(res[1]) * time.Millisecond, AddressBlocked: res[2]&1 != 0,
		PairBlocked: res[2]&2 != 0, Repeat: res[0] == 2}, nil
}

// GiveBack takes back the failure Admit counted: right, the password was
// right (the pair's failures are forgotten too); otherwise the check found
// nothing.
func (s *Store) GiveBack(l Login, right bool) error {
	return s.login(func(ctx context.Context) error {
		return giveBackScript.Run(ctx, s.client, []string{l.addr, l.pair}, policyArgs(l.policy, right)...).Err()
	})
}

// Forget clears l's pair after a right password the store did not count
// (one a replica remembered): its failures and block, as after any
// success.
func (s *Store) Forget(l Login) error {
	return s.login(func(ctx context.Context) error { return s.client.Del(ctx, l.pair).Err() })
}

// RememberWrong records that l's password was wrong, for ttl: the same one
// again, on any replica, is a repeat.
func (s *Store) RememberWrong(l Login, ttl time.Duration) error {
	return s.login(func(ctx context.Context) error {
		return s.client.Set(ctx, l.wrong, 1, ttl).Err()
	})
}

// lifetime is how long a key outlives its block: until its count has
// decayed to nothing (eight half-lives take 200 failures below one).
func lifetime(p throttle.Policy) int64 { return 8 * p.Decay.Milliseconds() }

// policyArgs are the scripts' ARGV: the policy, then a flag.
func policyArgs(p throttle.Policy, flag bool) []any {
	f := 0
	if flag {
		f = 1
	}
	return []any{p.PairThreshold, p.AddressThreshold, p.BaseDelay.Milliseconds(), p.MaxDelay.Milliseconds(),
		p.Decay.Milliseconds(), lifetime(p), f}
}
