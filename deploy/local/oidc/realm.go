package main

// The realm: the clients and the people the provider knows, one JSON file
// that others write (atomically, by rename) while the provider runs:
//
//	{"clients": [{"id": "partnerhub-portal", "secret": "",
//	              "redirect_uris": ["http://127.0.0.1:8000/auth/callback"],
//	              "post_logout_redirect_uris": ["http://127.0.0.1:8000/"]}],
//	 "people": [{"username": "partner-a", "password": "…", "name": "…", "email": "…",
//	             "role": "partner", "partner_id": "P-123"}]}
//
// It is read again on every lookup, so a person added or a partner id changed
// counts from the next sign-in, token or refresh on. A missing or unreadable
// file, or one that is not JSON, is an empty realm; an entry that breaks a
// rule is left out. Either is logged once, until what is wrong changes.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// roles are the values of a person's partnerhub_role.
var roles = []string{"admin", "channel_manager", "partner"}

type realm struct {
	Clients []realmClient `json:"clients"`
	People  []person      `json:"people"`
}

// realmClient is a relying party. With an empty secret it is public (no
// client authentication, PKCE with S256 required); with one it is
// confidential (client_secret_basic or client_secret_post; PKCE accepted).
type realmClient struct {
	ID                     string   `json:"id"`
	Secret                 string   `json:"secret"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

func (c realmClient) public() bool { return c.Secret == "" }

// person is someone who signs in. The username is the stable subject (sub).
// partner_id counts for partners only. A partner may be without one for a
// while (the demo binds its partner users once it has made the partners):
// they sign in, and the services refuse their token until it carries one.
type person struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	PartnerID string `json:"partner_id"`
}

func (r realm) client(id string) (realmClient, bool) {
	i := slices.IndexFunc(r.Clients, func(c realmClient) bool { return c.ID == id })
	if i < 0 {
		return realmClient{}, false
	}
	return r.Clients[i], true
}

func (r realm) person(username string) (person, bool) {
	i := slices.IndexFunc(r.People, func(p person) bool { return p.Username == username })
	if i < 0 {
		return person{}, false
	}
	return r.People[i], true
}

// claims are what a token says of the person besides the registered claims:
// access tokens carry them all; ID tokens and userinfo the same through setUserinfo.
func (p person) claims() map[string]any {
	claims := map[string]any{
		"partnerhub_role":    p.Role,
		"preferred_username": p.Username,
	}
	if p.Name != "" {
		claims["name"] = p.Name
	}
	if p.Email != "" {
		claims["email"] = p.Email
	}
	if p.Role == "partner" && p.PartnerID != "" {
		claims["partner_id"] = p.PartnerID
	}
	return claims
}

// setUserinfo fills an ID token's or the userinfo endpoint's claims; the same as claims.
func (p person) setUserinfo(info *oidc.UserInfo) {
	info.Subject = p.Username
	info.PreferredUsername = p.Username
	info.Name = p.Name
	info.Email = p.Email
	info.AppendClaims("partnerhub_role", p.Role)
	if p.Role == "partner" && p.PartnerID != "" {
		info.AppendClaims("partner_id", p.PartnerID)
	}
}

// realmFile reads the realm file at every lookup.
type realmFile struct {
	path   string
	logger *slog.Logger

	mu      sync.Mutex
	problem string // what the last read found wrong ("" when nothing)
}

func (f *realmFile) read() realm {
	r, problems := readRealm(f.path)
	f.report(problems)
	return r
}

// report logs what is wrong with the file when it differs from the last read.
func (f *realmFile) report(problems []string) {
	problem := strings.Join(problems, "; ")
	f.mu.Lock()
	changed := problem != f.problem
	f.problem = problem
	f.mu.Unlock()
	switch {
	case !changed:
	case problem == "":
		f.logger.Info("realm file read without problems", "path", f.path)
	default:
		f.logger.Error("realm file", "path", f.path, "problems", problem)
	}
}

// readRealm parses the realm file. A file that cannot be read or parsed
// gives an empty realm; an entry that breaks a rule is left out. problems
// names what is wrong (never a password or a secret).
func readRealm(path string) (realm, []string) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return realm{}, []string{"missing: no clients, no people"}
	}
	if err != nil {
		return realm{}, []string{fmt.Sprintf("unreadable (%v): no clients, no people", err)}
	}
	var parsed realm
	decoder := json.NewDecoder(bytes.NewReader(data))
	if err := decoder.Decode(&parsed); err != nil {
		return realm{}, []string{fmt.Sprintf("not a realm (%v): no clients, no people", err)}
	}
	if decoder.More() {
		return realm{}, []string{"not a realm (data after the JSON object): no clients, no people"}
	}

	var r realm
	var problems []string
	for i, c := range parsed.Clients {
		if err := checkClient(c, r); err != nil {
			problems = append(problems, fmt.Sprintf("clients[%d] left out: %v", i, err))
			continue
		}
		r.Clients = append(r.Clients, c)
	}
	for i, p := range parsed.People {
		if err := checkPerson(p, r); err != nil {
			problems = append(problems, fmt.Sprintf("people[%d] left out: %v", i, err))
			continue
		}
		r.People = append(r.People, p)
	}
	return r, problems
}

func checkClient(c realmClient, known realm) error {
	if c.ID == "" {
		return errors.New("no id")
	}
	if _, ok := known.client(c.ID); ok {
		return fmt.Errorf("client %q is already in the realm", c.ID)
	}
	if len(c.RedirectURIs) == 0 {
		return fmt.Errorf("client %q has no redirect_uris", c.ID)
	}
	for _, uri := range slices.Concat(c.RedirectURIs, c.PostLogoutRedirectURIs) {
		u, err := url.Parse(uri)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return fmt.Errorf("client %q: %q is not an absolute http(s) URL without a fragment", c.ID, uri)
		}
	}
	return nil
}

func checkPerson(p person, known realm) error {
	if p.Username == "" {
		return errors.New("no username")
	}
	if _, ok := known.person(p.Username); ok {
		return fmt.Errorf("%q is already in the realm", p.Username)
	}
	if p.Password == "" {
		return fmt.Errorf("%q has no password", p.Username)
	}
	if !slices.Contains(roles, p.Role) {
		return fmt.Errorf("%q has role %q; it must be one of %s", p.Username, p.Role, strings.Join(roles, ", "))
	}
	return nil
}
