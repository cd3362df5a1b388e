package main

// The sign-in page. The library sends the browser here with the id of the
// auth request (client.LoginURL); the form carries that id through, and a
// right username and password complete the auth request and send the browser
// on to the library's callback (op.AuthCallbackURL), which redirects to the
// client with the code.
//
// Cross-site request forgery: the form's hidden csrf field is an HMAC of the
// auth request id and a random value in an HttpOnly, SameSite=Strict cookie of
// this browser; a post without both, matching, is refused.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
)

const (
	loginPath     = "/login"
	loggedOutPath = "/logged-out"
	loginCookie   = "partnerhub_oidc_login"
	wrongLogin    = "Wrong username or password."
	maxFormBytes  = 16 << 10
)

type login struct {
	storage  *storage
	callback func(ctx context.Context, authRequestID string) string
	csrfKey  []byte
	secure   bool // cookies only over https (an https issuer)
}

func newLogin(s *storage, callback func(context.Context, string) string, secure bool) *login {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read does not return errors
	return &login{storage: s, callback: callback, csrfKey: key, secure: secure}
}

func (l *login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		l.show(w, r)
	case http.MethodPost:
		l.submit(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *login) show(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	if !l.storage.awaitsSignIn(id) {
		expired(w)
		return
	}
	browser := l.browser(w, r)
	renderForm(w, http.StatusOK, formPage{ID: id, CSRF: l.csrf(id, browser)})
}

func (l *login) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("authRequestID")
	if !l.storage.awaitsSignIn(id) {
		expired(w)
		return
	}
	cookie, err := r.Cookie(loginCookie)
	if err != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(l.csrf(id, cookie.Value))) {
		renderMessage(w, http.StatusForbidden, messagePage{
			Title:   "Sign-in form refused",
			Message: "This form was not sent from this browser's sign-in page. Load the sign-in page again.",
			Link:    loginPath + "?" + url.Values{"authRequestID": {id}}.Encode(),
		})
		return
	}
	username := r.PostForm.Get("username")
	ok, err := l.storage.signIn(id, username, r.PostForm.Get("password"))
	if err != nil {
		expired(w)
		return
	}
	if !ok {
		renderForm(w, http.StatusOK, formPage{ID: id, CSRF: l.csrf(id, cookie.Value), Username: username, Error: wrongLogin})
		return
	}
	http.Redirect(w, r, l.callback(r.Context(), id), http.StatusSeeOther)
}

// browser is this browser's random value, from its cookie or new (and set).
func (l *login) browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	value := randomID()
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: value, Path: loginPath,
		HttpOnly: true, Secure: l.secure, SameSite: http.SameSiteStrictMode,
	})
	return value
}

func (l *login) csrf(authRequestID, browser string) string {
	mac := hmac.New(sha256.New, l.csrfKey)
	mac.Write([]byte(authRequestID))
	mac.Write([]byte{0})
	mac.Write([]byte(browser))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func expired(w http.ResponseWriter) {
	renderMessage(w, http.StatusBadRequest, messagePage{
		Title:   "Sign-in expired",
		Message: "This sign-in has expired or is already complete. Go back to the application and sign in again.",
	})
}

func loggedOut(w http.ResponseWriter, _ *http.Request) {
	renderMessage(w, http.StatusOK, messagePage{Title: "Signed out", Message: "You are signed out of partnerhub."})
}

type formPage struct {
	ID, CSRF, Username, Error string
}

type messagePage struct {
	Title, Message, Link string
}

func pageHeaders(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
}

func renderForm(w http.ResponseWriter, status int, page formPage) {
	pageHeaders(w, status)
	_ = pages.ExecuteTemplate(w, "form", page)
}

func renderMessage(w http.ResponseWriter, status int, page messagePage) {
	pageHeaders(w, status)
	_ = pages.ExecuteTemplate(w, "message", page)
}

var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>partnerhub sign-in</title>
<style>
body { font-family: system-ui, sans-serif; background: #f4f5f7; margin: 0; }
main { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
label { display: block; margin-top: 1rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; margin-top: .25rem; font-size: 1rem; }
button { margin-top: 1.5rem; width: 100%; padding: .6rem; font-size: 1rem; }
.error { color: #a4000f; background: #fdecee; padding: .5rem; border-radius: 4px; }
</style>
</head>
<body>
<main>
{{end}}
{{define "form"}}{{template "head"}}<h1>Sign in to partnerhub</h1>
{{if .Error}}<p class="error" id="error" role="alert">{{.Error}}</p>
{{end}}<form method="post" action="/login">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" value="{{.Username}}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="sign-in" type="submit">Sign in</button>
</form>
</main>
</body>
</html>
{{end}}
{{define "message"}}{{template "head"}}<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Link}}<p><a href="{{.Link}}">Sign-in page</a></p>
{{end}}</main>
</body>
</html>
{{end}}`))
