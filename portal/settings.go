package portal

import (
	"context"
	_ "embed"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"portaldesk/templates/i18n"
)

// MaxFileMBCeiling is the largest file size an admin may allow.
const MaxFileMBCeiling = 100

// Settings reads the admin's settings.
func (p *Portal) Settings(ctx context.Context) Settings {
	files, _ := strconv.Atoi(p.Setting(ctx, "max_files", "10"))
	mb, _ := strconv.ParseFloat(p.Setting(ctx, "max_file_mb", "20"), 64)
	defs := map[string]bool{}
	for _, k := range NotifyKinds {
		defs[k.ID] = true
	}
	_ = json.Unmarshal([]byte(p.Setting(ctx, "notify_defaults", "{}")), &defs)
	defaultGroup, _ := strconv.ParseInt(p.Setting(ctx, "default_group", "0"), 10, 64)
	return Settings{MaxFiles: files, MaxFileMB: mb, Preamble: p.Setting(ctx, "preamble", ""), NotifyNewTicket: p.Setting(ctx, "notify_new_ticket", "all"), NotifyDefaults: defs, Lang: p.Setting(ctx, "lang", "en"),
		RequireTwoFactor: p.Setting(ctx, "require_two_factor", "") == "1", DefaultGroup: defaultGroup,
		SLAToClients: p.Setting(ctx, "sla_clients", "") == "1"}
}

// SaveSettings validates and stores the admin's settings.
func (p *Portal) SaveSettings(ctx context.Context, in Settings) error {
	errs := map[string]string{}
	if in.MaxFiles < 1 || in.MaxFiles > 50 {
		errs["max_files"] = "Between 1 and 50 files per ticket."
	}
	if in.MaxFileMB < 0.1 || in.MaxFileMB > MaxFileMBCeiling {
		errs["max_file_mb"] = "Between 0.1 and 100 MB."
	}
	if utf8.RuneCountInString(in.Preamble) > 5000 {
		errs["preamble"] = "At most 5000 characters."
	}
	if in.NotifyNewTicket != "all" && in.NotifyNewTicket != "none" {
		errs["notify_new_ticket"] = "Choose all operators or none."
	}
	if in.Lang == "" {
		in.Lang = "en"
	}
	if !i18n.Supported(in.Lang) {
		errs["lang"] = "Choose English or Russian."
	}
	if in.DefaultGroup != 0 {
		if _, _, err := p.findGroup(ctx, strconv.FormatInt(in.DefaultGroup, 10)); err != nil {
			errs["default_group"] = "Unknown group."
		}
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	defs := map[string]bool{}
	for _, k := range NotifyKinds {
		defs[k.ID] = in.NotifyDefaults[k.ID]
	}
	defsJSON, _ := json.Marshal(defs)
	return p.SetSettings(ctx, map[string]string{
		"notify_defaults": string(defsJSON),
		"max_files":       strconv.Itoa(in.MaxFiles), "max_file_mb": strconv.FormatFloat(in.MaxFileMB, 'f', -1, 64),
		"preamble": strings.TrimSpace(Text(in.Preamble)), "notify_new_ticket": in.NotifyNewTicket,
		"lang": in.Lang, "require_two_factor": map[bool]string{true: "1", false: ""}[in.RequireTwoFactor],
		"default_group": strconv.FormatInt(in.DefaultGroup, 10),
		"sla_clients":   map[bool]string{true: "1", false: ""}[in.SLAToClients],
	})
}

// SetPreamble sets the text shown above the questionnaire.
func (p *Portal) SetPreamble(ctx context.Context, text string) error {
	if utf8.RuneCountInString(text) > 5000 {
		return &FieldErrors{Fields: map[string]string{"preamble": "At most 5000 characters."}}
	}
	return p.SetSetting(ctx, "preamble", strings.TrimSpace(Text(text)))
}

// Settings are the admin's knobs for the portal.
type Settings struct {
	MaxFiles        int     `json:"max_files"`
	MaxFileMB       float64 `json:"max_file_mb"`
	Preamble        string  `json:"preamble"`
	NotifyNewTicket string  `json:"notify_new_ticket"`
	// Lang is the portal's default language ("en" or "ru"): pages for
	// people who have not chosen one, and their mail.
	Lang string `json:"lang"`
	// NotifyDefaults is what each kind of notification starts as for a user
	// who has not chosen.
	NotifyDefaults map[string]bool `json:"notify_defaults"`
	// RequireTwoFactor makes two-step sign-in mandatory for admins and
	// operators: one without it can only set it up until they have.
	RequireTwoFactor bool `json:"require_two_factor"`
	// DefaultGroup is the group new tickets go to (0: none).
	DefaultGroup int64 `json:"default_group"`
	// SLAToClients shows clients the times their ticket is promised an
	// answer and a resolution by (the SLA's due times).
	SLAToClients bool `json:"sla_to_clients"`
}
