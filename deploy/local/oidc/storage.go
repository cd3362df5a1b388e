package main

// storage is the op.Storage of the provider: clients and people come from the
// realm file (read at every lookup); auth requests, codes and refresh tokens
// live in memory only, so a restart ends sign-ins in progress and refresh
// tokens, while access and ID tokens, signed JWTs with the key kept on disk,
// stay valid until they expire.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	// authRequestLifetime is how long a person has to sign in.
	authRequestLifetime = 10 * time.Minute
	// codeLifetime is how long an authorization code can be exchanged.
	codeLifetime = time.Minute
)

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

type settings struct {
	audience             string
	accessTokenLifetime  time.Duration
	idTokenLifetime      time.Duration
	refreshTokenLifetime time.Duration
}

type storage struct {
	realm *realmFile
	key   *signingKey
	settings

	mu            sync.Mutex
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request id
	refreshTokens map[string]*refreshToken
}

func newStorage(realm *realmFile, key *signingKey, s settings) *storage {
	return &storage{
		realm:         realm,
		key:           key,
		settings:      s,
		authRequests:  make(map[string]*authRequest),
		codes:         make(map[string]string),
		refreshTokens: make(map[string]*refreshToken),
	}
}

// randomID is 32 random bytes, URL-safe: ids of auth requests and access tokens, refresh tokens.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not return errors
	return base64.RawURLEncoding.EncodeToString(b)
}

// --- auth requests ---

// authRequest is one authorization request, from /authorize until its code is exchanged.
type authRequest struct {
	id            string
	clientID      string
	redirectURI   string
	scopes        []string
	state         string
	nonce         string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	audience      []string
	expires       time.Time

	subject  string // set by a successful sign-in
	authTime time.Time
	done     bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

// audienceFor is the aud of a client's tokens: the API audience, then the client.
func (s *storage) audienceFor(clientID string) []string {
	if clientID == s.audience {
		return []string{clientID}
	}
	return []string{s.audience, clientID}
}

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		// There is no sign-in session to reuse: every authorization shows the form.
		return nil, oidc.ErrLoginRequired()
	}
	client, ok := s.realm.read().client(req.ClientID)
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	switch {
	case req.CodeChallenge == "" && client.public():
		return nil, oidc.ErrInvalidRequest().WithDescription("a public client must use PKCE (code_challenge_method S256)")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	a := &authRequest{
		id:           randomID(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		scopes:       req.Scopes,
		state:        req.State,
		nonce:        req.Nonce,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		audience:     s.audienceFor(req.ClientID),
		expires:      time.Now().Add(authRequestLifetime),
	}
	if req.CodeChallenge != "" {
		a.codeChallenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(time.Now())
	s.authRequests[a.id] = a
	return a, nil
}

// prune drops expired auth requests, codes and refresh tokens; s.mu is held.
func (s *storage) prune(now time.Time) {
	for id, a := range s.authRequests {
		if now.After(a.expires) {
			delete(s.authRequests, id)
		}
	}
	for code, id := range s.codes {
		if _, ok := s.authRequests[id]; !ok {
			delete(s.codes, code)
		}
	}
	for token, rt := range s.refreshTokens {
		if now.After(rt.expires) {
			delete(s.refreshTokens, token)
		}
	}
}

func (s *storage) authRequest(id string) (*authRequest, error) {
	a, ok := s.authRequests[id]
	if !ok || time.Now().After(a.expires) {
		return nil, errors.New("auth request not found or expired")
	}
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authRequest(id)
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errors.New("code unknown or used")
	}
	return s.authRequest(id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.authRequest(id)
	if err != nil {
		return err
	}
	s.codes[code] = id
	a.expires = time.Now().Add(codeLifetime)
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, requestID := range s.codes {
		if requestID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// awaitsSignIn says whether the auth request id is one a sign-in form may be for:
// known, unexpired and not signed in yet.
func (s *storage) awaitsSignIn(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.authRequest(id)
	return err == nil && !a.done
}

// signIn checks a person's password and, when it is right, completes the auth request for them.
func (s *storage) signIn(id, username, password string) (bool, error) {
	p, ok := s.realm.read().person(username)
	// The comparison runs for an unknown username too, against nothing.
	right := subtle.ConstantTimeCompare([]byte(p.Password), []byte(password)) == 1 && ok
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.authRequest(id)
	if err != nil {
		return false, err
	}
	if a.done {
		return false, errors.New("auth request already signed in")
	}
	if !right {
		return false, nil
	}
	a.subject = p.Username
	a.authTime = time.Now()
	a.done = true
	return true, nil
}

// --- tokens ---

// refreshToken is what a refresh token stands for; the token is the map key.
type refreshToken struct {
	clientID string
	subject  string
	scopes   []string
	audience []string
	authTime time.Time
	amr      []string
	expires  time.Time
}

// refreshTokenRequest is the op.RefreshTokenRequest of one refresh.
type refreshTokenRequest struct{ refreshToken }

func (r *refreshTokenRequest) GetAMR() []string                 { return r.amr }
func (r *refreshTokenRequest) GetAudience() []string            { return r.audience }
func (r *refreshTokenRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshTokenRequest) GetClientID() string              { return r.clientID }
func (r *refreshTokenRequest) GetScopes() []string              { return r.scopes }
func (r *refreshTokenRequest) GetSubject() string               { return r.subject }
func (r *refreshTokenRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// CreateAccessToken gives the id (jti) and expiry of a JWT access token; the
// library signs it. Access tokens are not stored: they are valid until they expire.
func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return randomID(), time.Now().Add(s.accessTokenLifetime), nil
}

// CreateAccessAndRefreshTokens issues a refresh token with an access token:
// a new one after a code exchange, and for a refresh a new one in place of
// the one presented (which then no longer works), for the same scopes.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, request op.TokenRequest, current string) (string, string, time.Time, error) {
	now := time.Now()
	token := randomID()
	s.mu.Lock()
	defer s.mu.Unlock()
	var rt refreshToken
	switch req := request.(type) {
	case *authRequest:
		rt = refreshToken{clientID: req.clientID, subject: req.subject, scopes: req.scopes,
			audience: req.audience, authTime: req.authTime, amr: req.GetAMR()}
	case *refreshTokenRequest:
		presented, ok := s.refreshTokens[current]
		if !ok {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		delete(s.refreshTokens, current)
		rt = *presented
	default:
		return "", "", time.Time{}, fmt.Errorf("no refresh tokens for a %T", request)
	}
	rt.expires = now.Add(s.refreshTokenLifetime)
	s.prune(now)
	s.refreshTokens[token] = &rt
	return randomID(), token, now.Add(s.accessTokenLifetime), nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	rt, ok := s.refreshTokens[token]
	if ok && time.Now().After(rt.expires) {
		delete(s.refreshTokens, token)
		ok = false
	}
	var request *refreshTokenRequest
	if ok {
		request = &refreshTokenRequest{*rt}
		request.scopes = slices.Clone(rt.scopes)
	}
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("refresh token unknown, used or expired")
	}
	if _, ok := s.realm.read().person(request.subject); !ok {
		return nil, errors.New("the person is no longer in the realm")
	}
	return request, nil
}

// TerminateSession ends a person's sign-in at a client (end_session with an
// id_token_hint): their refresh tokens of that client stop working.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for token, rt := range s.refreshTokens {
		if rt.subject == userID && rt.clientID == clientID {
			delete(s.refreshTokens, token)
		}
	}
	return nil
}

// RevokeToken revokes a refresh token; an access token (a JWT) cannot be, and
// RFC 7009 lets the answer be success all the same.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[tokenOrID]
	if !ok {
		return nil
	}
	if rt.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
	}
	delete(s.refreshTokens, tokenOrID)
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, token, nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// --- clients ---

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.realm.read().client(clientID)
	if !ok {
		return nil, errors.New("unknown client")
	}
	return &client{realmClient: c, idTokenLifetime: s.idTokenLifetime}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	c, ok := s.realm.read().client(clientID)
	switch {
	case !ok:
		return errors.New("unknown client")
	case c.public():
		return errors.New("a public client has no secret")
	case subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1:
		return errors.New("wrong client secret")
	}
	return nil
}

// --- claims ---

// SetUserinfoFromScopes is deprecated in the library and left empty: SetUserinfoFromRequest fills ID tokens.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills an ID token with the person's claims, whatever the scopes.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, request op.IDTokenRequest, _ []string) error {
	p, err := s.personFor(request.GetSubject())
	if err != nil {
		return err
	}
	p.setUserinfo(info)
	return nil
}

// GetPrivateClaimsFromRequest gives an access token its scope and the person's claims.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, request op.TokenRequest, _ []string) (map[string]any, error) {
	p, err := s.personFor(request.GetSubject())
	if err != nil {
		return nil, err
	}
	claims := p.claims()
	claims["scope"] = strings.Join(request.GetScopes(), " ")
	return claims, nil
}

// GetPrivateClaimsFromScopes is not called: the storage implements GetPrivateClaimsFromRequest.
func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	p, err := s.personFor(userID)
	if err != nil {
		return nil, err
	}
	return p.claims(), nil
}

// SetUserinfoFromToken answers the userinfo endpoint for a verified access
// token; an ID token (no jti) is refused.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	if tokenID == "" {
		return errors.New("not an access token")
	}
	p, err := s.personFor(subject)
	if err != nil {
		return err
	}
	p.setUserinfo(info)
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	if tokenID == "" {
		return errors.New("not an access token")
	}
	p, err := s.personFor(subject)
	if err != nil {
		return err
	}
	info := new(oidc.UserInfo)
	p.setUserinfo(info)
	resp.SetUserInfo(info)
	return nil
}

func (s *storage) personFor(subject string) (person, error) {
	p, ok := s.realm.read().person(subject)
	if !ok {
		return person{}, oidc.ErrInvalidGrant().WithDescription("the person is no longer in the realm")
	}
	return p, nil
}

// GetKeyByIDAndClientID finds no key: no client authenticates with a JWT (private_key_jwt, JWT profile).
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("no client keys")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("no JWT profile grant")
}

func (s *storage) Health(context.Context) error { return nil }

// --- the op.Client of a realm client ---

type client struct {
	realmClient
	idTokenLifetime time.Duration
}

func (c *client) GetID() string                    { return c.ID }
func (c *client) RedirectURIs() []string           { return c.realmClient.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.realmClient.PostLogoutRedirectURIs }

// ApplicationType is web for every client: the library then matches redirect
// URIs exactly and allows http ones for the code flow.
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	// The library accepts the secret in the form too (client_secret_post), as Config.AuthMethodPost allows.
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string {
	return loginPath + "?" + url.Values{"authRequestID": {id}}.Encode()
}
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTokenLifetime }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
