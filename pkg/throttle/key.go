package throttle

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"strings"
)

// hasher turns user names and addresses into table keys. The seeds are
// random per Limiter, so nobody can choose inputs that collide.
type hasher struct {
	ipSeed, rawSeed, userSeed, pairSeed maphash.Seed
}

func newHasher() hasher {
	return hasher{ipSeed: maphash.MakeSeed(), rawSeed: maphash.MakeSeed(), userSeed: maphash.MakeSeed(), pairSeed: maphash.MakeSeed()}
}

// address is the key of the client at addr.
func (h *hasher) address(addr string) uint64 {
	ip, ok := clientIP(addr)
	if !ok {
		return maphash.String(h.rawSeed, addr)
	}
	b := prefix(ip)
	return maphash.Bytes(h.ipSeed, b[:])
}

// pair is the key of user at the address whose key is addrKey.
func (h *hasher) pair(user string, addrKey uint64) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], maphash.String(h.userSeed, user))
	binary.LittleEndian.PutUint64(b[8:], addrKey)
	return maphash.Bytes(h.pairSeed, b[:])
}

// AddressID is the part of addr that names one client, as the throttle
// counts it: the IPv4 address or the /64 of an IPv6 address (ports ignored,
// IPv4-mapped addresses unmapped), or addr itself when it is no IP address.
// A store shared by replicas keys its counts by it.
func AddressID(addr string) []byte {
	ip, ok := clientIP(addr)
	if !ok {
		return []byte(addr)
	}
	b := prefix(ip)
	return b[:]
}

// clientIP parses addr as "IP", "IPv4:port" or "[IPv6]:port" without
// allocating for the common forms (netip's errors allocate, so the form is
// chosen before parsing).
func clientIP(addr string) (netip.Addr, bool) {
	if strings.HasPrefix(addr, "[") || strings.Count(addr, ":") == 1 {
		ap, err := netip.ParseAddrPort(addr)
		return ap.Addr(), err == nil
	}
	ip, err := netip.ParseAddr(addr)
	return ip, err == nil
}

// prefix is the part of ip that names one client: a whole IPv4 address, or
// the /64 of an IPv6 address (one host usually owns a whole /64). The first
// byte tells the two apart.
func prefix(ip netip.Addr) [9]byte {
	var b [9]byte
	ip = ip.Unmap()
	if ip.Is4() {
		a := ip.As4()
		b[0] = 4
		copy(b[1:], a[:])
		return b
	}
	a := ip.As16()
	b[0] = 6
	copy(b[1:], a[:8])
	return b
}
