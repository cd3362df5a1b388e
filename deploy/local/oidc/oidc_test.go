package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

const (
	testIssuer    = "http://127.0.0.1:5556"
	portal        = "partnerhub-portal"
	portalReturn  = "http://127.0.0.1:8000/auth/callback"
	portalHome    = "http://127.0.0.1:8000/"
	backend       = "partnerhub-backend"
	backendSecret = "backend-secret"
)

func testRealm(partnerID string) realm {
	return realm{
		Clients: []realmClient{
			{ID: portal, RedirectURIs: []string{portalReturn}, PostLogoutRedirectURIs: []string{portalHome}},
			{ID: backend, Secret: backendSecret, RedirectURIs: []string{portalReturn}},
		},
		People: []person{
			{Username: "manager", Password: "manager-pw", Name: "Maria Manager", Email: "manager@example.test",
				Role: "channel_manager"},
			{Username: "partner-a", Password: "partner-pw", Name: "Paul Partner", Email: "partner-a@example.test",
				Role: "partner", PartnerID: partnerID},
		},
	}
}

// writeRealm replaces the realm file the way others do: a new file renamed over it.
func writeRealm(t *testing.T, path string, content any) {
	t.Helper()
	data, ok := content.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(content); err != nil {
			t.Fatal(err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func newRealmFile(path string) (*realmFile, *bytes.Buffer) {
	var logs bytes.Buffer
	return &realmFile{path: path, logger: slog.New(slog.NewTextHandler(&logs, nil))}, &logs
}

func TestRealmIsReadAgainAtEveryLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "realm.json")
	writeRealm(t, path, testRealm("P-123"))
	f, logs := newRealmFile(path)

	if p, ok := f.read().person("partner-a"); !ok || p.PartnerID != "P-123" {
		t.Fatalf("partner-a: %+v, %v", p, ok)
	}
	changed := testRealm("P-456")
	changed.People = append(changed.People, person{Username: "admin", Password: "admin-pw", Role: "admin"})
	writeRealm(t, path, changed)
	r := f.read()
	if p, _ := r.person("partner-a"); p.PartnerID != "P-456" {
		t.Fatalf("the changed partner id is not read: %+v", p)
	}
	if _, ok := r.person("admin"); !ok {
		t.Fatal("the added person is not read")
	}
	if c, ok := r.client(backend); !ok || c.public() {
		t.Fatalf("the confidential client: %+v, %v", c, ok)
	}
	if logs.Len() != 0 {
		t.Fatalf("a good realm file logged: %s", logs)
	}
}

func TestMissingRealmFileIsAnEmptyRealmLoggedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "realm.json")
	f, logs := newRealmFile(path)
	for range 3 {
		if r := f.read(); len(r.Clients) != 0 || len(r.People) != 0 {
			t.Fatalf("a missing file gave %+v", r)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "missing") {
		t.Fatalf("expected one error about the missing file, got: %s", logs)
	}
	writeRealm(t, path, testRealm("P-123"))
	if _, ok := f.read().person("manager"); !ok {
		t.Fatal("the file written later is not read")
	}
	if !strings.Contains(logs.String(), "without problems") {
		t.Fatalf("the recovery is not logged: %s", logs)
	}
}

func TestBadRealmFileIsAnEmptyRealm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "realm.json")
	for _, bad := range []string{`{"clients": [`, `[1, 2]`, `{"people": []} {}`, ``} {
		writeRealm(t, path, []byte(bad))
		r, problems := readRealm(path)
		if len(r.Clients) != 0 || len(r.People) != 0 || len(problems) != 1 {
			t.Errorf("%q gave %+v, problems %q", bad, r, problems)
		}
	}
}

func TestEntriesBreakingARuleAreLeftOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "realm.json")
	r := testRealm("P-123")
	r.Clients = append(r.Clients, realmClient{ID: "no-redirect"}, realmClient{ID: portal, RedirectURIs: []string{portalHome}},
		realmClient{ID: "relative", RedirectURIs: []string{"/auth/callback"}})
	unbound := person{Username: "partner-b", Password: "secret-pw-1", Role: "partner"} // kept: no partner yet
	r.People = append(r.People, unbound,
		person{Username: "boss", Password: "secret-pw-2", Role: "owner"},
		person{Username: "manager", Password: "secret-pw-3", Role: "admin"},
		person{Username: "nopw", Role: "admin"})
	writeRealm(t, path, r)

	got, problems := readRealm(path)
	want := testRealm("P-123")
	want.People = append(want.People, unbound)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v", got)
	}
	if len(problems) != 6 {
		t.Fatalf("problems: %q", problems)
	}
	if text := strings.Join(problems, "\n"); strings.Contains(text, "secret-pw") {
		t.Fatalf("a password is in the problems: %s", text)
	}
}

func TestClaimsOfAPartnerAndAManager(t *testing.T) {
	r := testRealm("P-123")
	partner, _ := r.person("partner-a")
	manager, _ := r.person("manager")

	if want := map[string]any{"partnerhub_role": "partner", "partner_id": "P-123", "name": "Paul Partner",
		"preferred_username": "partner-a", "email": "partner-a@example.test"}; !maps.Equal(partner.claims(), want) {
		t.Errorf("the partner's claims: %v", partner.claims())
	}
	if want := map[string]any{"partnerhub_role": "channel_manager", "name": "Maria Manager",
		"preferred_username": "manager", "email": "manager@example.test"}; !maps.Equal(manager.claims(), want) {
		t.Errorf("the manager's claims: %v", manager.claims())
	}
	// A partner id given to someone who is not a partner is not a claim, nor is an empty one.
	manager.PartnerID = "P-999"
	if _, ok := manager.claims()["partner_id"]; ok {
		t.Error("a manager's token would carry a partner_id")
	}
	unbound := person{Username: "partner-b", Password: "pw", Role: "partner"}
	if claims := unbound.claims(); claims["partnerhub_role"] != "partner" || claims["partner_id"] != nil {
		t.Errorf("the claims of a partner without a partner id: %v", claims)
	}

	var info oidc.UserInfo
	partner.setUserinfo(&info)
	if info.Subject != "partner-a" || info.Name != "Paul Partner" || info.Claims["partner_id"] != "P-123" ||
		info.Claims["partnerhub_role"] != "partner" {
		t.Errorf("the partner's userinfo: %+v", info)
	}
}

// --- the whole flow, through the handler (no sockets) ---

type provider struct {
	t       *testing.T
	handler http.Handler
	key     *signingKey
	realm   string
	cookies []*http.Cookie
}

func newProvider(t *testing.T, logTo ...*bytes.Buffer) *provider {
	t.Helper()
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "signing-key.pem")
	key, created, err := loadOrCreateKey(keyPath)
	if err != nil || !created {
		t.Fatalf("new key: %v, created %v", err, created)
	}
	again, created, err := loadOrCreateKey(keyPath)
	if err != nil || created || again.ID() != key.ID() {
		t.Fatalf("the key read again: %v, created %v, kid %s (was %s)", err, created, again.ID(), key.ID())
	}
	realmPath := filepath.Join(dir, "realm.json")
	writeRealm(t, realmPath, testRealm("P-123"))
	logs := &bytes.Buffer{}
	if len(logTo) > 0 {
		logs = logTo[0]
	}
	logger := slog.New(captureHandler{slog.NewTextHandler(logs, nil)})
	s := newStorage(&realmFile{path: realmPath, logger: logger}, key, settings{
		audience: "partnerhub", accessTokenLifetime: 15 * time.Minute, idTokenLifetime: 15 * time.Minute,
		refreshTokenLifetime: time.Hour,
	})
	h, err := newHandler(testIssuer, s, logger)
	if err != nil {
		t.Fatal(err)
	}
	return &provider{t: t, handler: h, key: key, realm: realmPath}
}

func (p *provider) do(method, target string, form url.Values, prepare ...func(*http.Request)) *httptest.ResponseRecorder {
	p.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for _, c := range p.cookies {
		req.AddCookie(c)
	}
	for _, f := range prepare {
		f(req)
	}
	w := httptest.NewRecorder()
	p.handler.ServeHTTP(w, req)
	p.cookies = append(p.cookies, w.Result().Cookies()...)
	return w
}

func location(t *testing.T, w *httptest.ResponseRecorder, status int) *url.URL {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var hiddenField = regexp.MustCompile(`name="(authRequestID|csrf)" value="([^"]*)"`)

// loginForm authorizes with PKCE and returns the sign-in form's hidden fields.
func (p *provider) loginForm(clientID, verifier string) url.Values {
	p.t.Helper()
	query := url.Values{"client_id": {clientID}, "redirect_uri": {portalReturn}, "response_type": {"code"},
		"scope": {"openid profile email offline_access"}, "state": {"st-1"}, "nonce": {"n-1"}}
	if verifier != "" {
		query.Set("code_challenge", oidc.NewSHACodeChallenge(verifier))
		query.Set("code_challenge_method", "S256")
	}
	login := location(p.t, p.do("GET", "/authorize?"+query.Encode(), nil), http.StatusFound)
	if login.Path != loginPath {
		p.t.Fatalf("authorize redirected to %s", login)
	}
	page := p.do("GET", login.String(), nil)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "<title>partnerhub sign-in</title>") {
		p.t.Fatalf("the sign-in page: %d %s", page.Code, page.Body)
	}
	fields := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page.Body.String(), -1) {
		fields.Set(m[1], m[2])
	}
	return fields
}

// signIn posts the form and follows the library's callback to the code.
func (p *provider) signIn(fields url.Values, username, password string) string {
	p.t.Helper()
	form := url.Values{"authRequestID": {fields.Get("authRequestID")}, "csrf": {fields.Get("csrf")},
		"username": {username}, "password": {password}}
	callback := location(p.t, p.do("POST", loginPath, form), http.StatusSeeOther)
	if !strings.HasPrefix(callback.String(), testIssuer+"/authorize/callback?") {
		p.t.Fatalf("signed in, redirected to %s", callback)
	}
	back := location(p.t, p.do("GET", callback.RequestURI(), nil), http.StatusFound)
	if back.Scheme+"://"+back.Host+back.Path != portalReturn || back.Query().Get("state") != "st-1" {
		p.t.Fatalf("back to the client at %s", back)
	}
	return back.Query().Get("code")
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func (p *provider) token(form url.Values, status int, prepare ...func(*http.Request)) tokens {
	p.t.Helper()
	w := p.do("POST", "/oauth/token", form, prepare...)
	if w.Code != status {
		p.t.Fatalf("token endpoint: %d, want %d: %s", w.Code, status, w.Body)
	}
	var got tokens
	if status == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			p.t.Fatal(err)
		}
	}
	return got
}

// claims verifies a JWT with the signing key and returns its claims.
func (p *provider) claims(token string) map[string]any {
	p.t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		p.t.Fatal(err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != p.key.ID() {
		p.t.Fatalf("kid %q, the key's is %q", kid, p.key.ID())
	}
	payload, err := jws.Verify(&p.key.private.PublicKey)
	if err != nil {
		p.t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		p.t.Fatal(err)
	}
	return claims
}

func TestPublicClientSignInTokensRefreshAndEndSession(t *testing.T) {
	p := newProvider(t)
	const verifier = "a-code-verifier-of-the-portal-that-is-long-enough-0123456789"
	fields := p.loginForm(portal, verifier)

	// A wrong password shows the form again, with the error.
	form := url.Values{"authRequestID": {fields.Get("authRequestID")}, "csrf": {fields.Get("csrf")},
		"username": {"partner-a"}, "password": {"wrong"}}
	if w := p.do("POST", loginPath, form); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), wrongLogin) ||
		!strings.Contains(w.Body.String(), `id="sign-in"`) {
		t.Fatalf("a wrong password: %d %s", w.Code, w.Body)
	}
	// A post without this browser's cookie, or with another form's token, is refused.
	saved := p.cookies
	p.cookies = nil
	form.Set("password", "partner-pw")
	if w := p.do("POST", loginPath, form); w.Code != http.StatusForbidden {
		t.Fatalf("a post without the cookie: %d", w.Code)
	}
	p.cookies = saved
	form.Set("csrf", "forged")
	if w := p.do("POST", loginPath, form); w.Code != http.StatusForbidden {
		t.Fatalf("a post with a forged token: %d", w.Code)
	}

	code := p.signIn(fields, "partner-a", "partner-pw")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {portalReturn},
		"client_id": {portal}}
	p.token(exchange, http.StatusBadRequest) // no code_verifier
	exchange.Set("code_verifier", verifier)
	got := p.token(exchange, http.StatusOK)
	p.token(exchange, http.StatusBadRequest) // a code is used once

	access := p.claims(got.AccessToken)
	for claim, want := range map[string]any{"iss": testIssuer, "sub": "partner-a", "client_id": portal,
		"partnerhub_role": "partner", "partner_id": "P-123", "name": "Paul Partner",
		"preferred_username": "partner-a", "email": "partner-a@example.test",
		"scope": "openid profile email offline_access"} {
		if access[claim] != want {
			t.Errorf("access token %s: %v, want %v", claim, access[claim], want)
		}
	}
	if aud, _ := access["aud"].([]any); len(aud) == 0 || aud[0] != "partnerhub" {
		t.Errorf("access token aud: %v", access["aud"])
	}
	exp, _ := access["exp"].(float64)
	iat, _ := access["iat"].(float64)
	if exp-iat < 14*60 || exp-iat > 15*60+1 || access["jti"] == "" || access["jti"] == nil {
		t.Errorf("access token exp %v, iat %v, jti %v", exp, iat, access["jti"])
	}
	id := p.claims(got.IDToken)
	// Only the client is the ID token's audience: it does not pass as an access token.
	if aud, _ := id["aud"].([]any); len(aud) != 1 || aud[0] != portal || id["azp"] != portal {
		t.Errorf("ID token aud %v, azp %v", id["aud"], id["azp"])
	}
	for claim, want := range map[string]any{"sub": "partner-a", "nonce": "n-1", "name": "Paul Partner",
		"partnerhub_role": "partner", "partner_id": "P-123", "email": "partner-a@example.test"} {
		if id[claim] != want {
			t.Errorf("ID token %s: %v, want %v", claim, id[claim], want)
		}
	}

	w := p.do("GET", "/userinfo", nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+got.AccessToken) })
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"partner_id":"P-123"`) {
		t.Fatalf("userinfo: %d %s", w.Code, w.Body)
	}

	// A refresh reads the realm again and replaces the refresh token.
	writeRealm(t, p.realm, testRealm("P-456"))
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {got.RefreshToken}, "client_id": {portal}}
	refreshed := p.token(refresh, http.StatusOK)
	if claims := p.claims(refreshed.AccessToken); claims["partner_id"] != "P-456" {
		t.Errorf("the refreshed access token's partner_id: %v", claims["partner_id"])
	}
	p.token(refresh, http.StatusBadRequest) // the old refresh token

	// Ending the session goes to the registered address and ends the refresh token.
	end := url.Values{"id_token_hint": {got.IDToken}, "post_logout_redirect_uri": {portalHome}, "state": {"bye"}}
	if to := location(t, p.do("GET", "/end_session?"+end.Encode(), nil), http.StatusFound); to.String() != portalHome+"?state=bye" {
		t.Fatalf("end_session went to %s", to)
	}
	refresh.Set("refresh_token", refreshed.RefreshToken)
	p.token(refresh, http.StatusBadRequest)
	end.Set("post_logout_redirect_uri", "http://evil.test/")
	if w := p.do("GET", "/end_session?"+end.Encode(), nil); w.Code != http.StatusBadRequest {
		t.Fatalf("end_session to an unregistered address: %d %s", w.Code, w.Header().Get("Location"))
	}
}

func TestPublicClientMustUsePKCE(t *testing.T) {
	p := newProvider(t)
	query := url.Values{"client_id": {portal}, "redirect_uri": {portalReturn}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"}}
	back := location(t, p.do("GET", "/authorize?"+query.Encode(), nil), http.StatusFound)
	if back.Query().Get("error") != "invalid_request" {
		t.Fatalf("authorize without PKCE redirected to %s", back)
	}
	query.Set("code_challenge", "plain-challenge-plain-challenge-plain-challenge")
	query.Set("code_challenge_method", "plain")
	back = location(t, p.do("GET", "/authorize?"+query.Encode(), nil), http.StatusFound)
	if back.Query().Get("error") != "invalid_request" {
		t.Fatalf("authorize with plain PKCE redirected to %s", back)
	}
}

func TestConfidentialClientAuthenticates(t *testing.T) {
	p := newProvider(t)
	code := p.signIn(p.loginForm(backend, ""), "manager", "manager-pw")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {portalReturn}}
	p.token(exchange, http.StatusUnauthorized, func(r *http.Request) { r.SetBasicAuth(backend, "wrong") })
	got := p.token(exchange, http.StatusOK, func(r *http.Request) { r.SetBasicAuth(backend, backendSecret) })
	claims := p.claims(got.AccessToken)
	if _, ok := claims["partner_id"]; ok || claims["partnerhub_role"] != "channel_manager" {
		t.Errorf("the manager's access token: %v", claims)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {got.RefreshToken},
		"client_id": {backend}, "client_secret": {backendSecret}}
	p.token(refresh, http.StatusOK) // client_secret_post
}

func TestHealthz(t *testing.T) {
	p := newProvider(t)
	if w := p.do("GET", healthPath, nil); w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Fatalf("healthz: %d %q", w.Code, w.Body)
	}
}

func TestOneLogLinePerRequestWithoutItsQuery(t *testing.T) {
	var logs bytes.Buffer
	p := newProvider(t, &logs)
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(captureHandler{slog.NewTextHandler(&logs, nil)})) // as main does: the library logs there
	logs.Reset()

	p.do("GET", "/authorize/callback?id=secret-request-id", nil)
	p.token(url.Values{"grant_type": {"authorization_code"}, "code": {"secret-code"}, "redirect_uri": {portalReturn},
		"client_id": {portal}, "code_verifier": {"v"}}, http.StatusBadRequest)
	p.do("GET", healthPath, nil)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 2 requests and /healthz:\n%s", len(lines), logs.String())
	}
	if !strings.Contains(lines[0], "path=/authorize/callback status=400") ||
		!strings.Contains(lines[1], "path=/oauth/token status=400") || !strings.Contains(lines[1], "type=invalid_grant") {
		t.Errorf("the lines:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "secret-") {
		t.Errorf("a request's query or form is in the log:\n%s", logs.String())
	}
}
