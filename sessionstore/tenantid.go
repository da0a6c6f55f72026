package sessionstore

import "fmt"

// MaxTenantIDLen is the longest tenant id ValidateTenantID accepts.
const MaxTenantIDLen = 64

// ValidateTenantID reports whether id matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$
// (the Selenium-era setup used numeric user ids such as "5"). The error wraps
// ErrInvalidTenantID and quotes the id. It is a byte loop rather than a regexp
// so it costs nothing on every request; FuzzTenantID checks it against the
// regexp.
func ValidateTenantID(id string) error {
	if len(id) == 0 || len(id) > MaxTenantIDLen {
		return fmt.Errorf("tenant %q: must be 1 to %d characters: %w", id, MaxTenantIDLen, ErrInvalidTenantID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || i > 0 && (c == '_' || c == '-') {
			continue
		}
		return fmt.Errorf("tenant %q: only letters, digits, '_' and '-' (not first) are allowed: %w", id, ErrInvalidTenantID)
	}
	return nil
}
