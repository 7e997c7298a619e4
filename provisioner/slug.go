package provisioner

import "strings"

// reservedSlugs are path names the service itself uses or may use.
var reservedSlugs = map[string]bool{
	"api": true, "static": true, "ops": true, "signup": true, "login": true, "logout": true, "admin": true,
	"www": true, "mail": true, "assets": true, "health": true, "healthz": true, "readyz": true, "metrics": true,
	"register": true, "support": true, "help": true, "docs": true, "status": true, "billing": true,
	"portal": true, "portals": true, "app": true, "dashboard": true, "account": true, "root": true,
	"system": true, "favicon-ico": true, "robots-txt": true, "new": true, "test": true, "debug": true,
}

// ValidateSlug says what is wrong with a portal address, or "" when it is fine.
func ValidateSlug(slug string) string {
	switch {
	case slug == "":
		return "Choose an address for your portal."
	case len(slug) < 3:
		return "The address must be at least 3 characters long."
	case len(slug) > 40:
		return "The address must be at most 40 characters long."
	}
	for i := 0; i < len(slug); i++ {
		c := slug[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "Use only lowercase latin letters, digits and hyphens."
		}
	}
	switch {
	case slug[0] == '-' || slug[len(slug)-1] == '-':
		return "The address cannot start or end with a hyphen."
	case strings.Contains(slug, "--"):
		return "The address cannot contain two hyphens in a row."
	case reservedSlugs[slug]:
		return "This address is reserved. Please choose another."
	}
	return ""
}

// looksLikeSlug is the router's quick test of a first path segment.
func looksLikeSlug(s string) bool {
	if len(s) < 3 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
