// Command oidc is partnerhub's local OpenID Connect provider: zitadel's OIDC
// library (its op package) over the clients and people of a realm file
// (realm.go), with a sign-in page of its own (login.go) and JWT access tokens
// for partnerhub's services (aud -audience, claims partnerhub_role and
// partner_id).
//
// Paths: /.well-known/openid-configuration, /authorize (and the library's
// /authorize/callback), /login, /oauth/token, /userinfo, /keys, /end_session,
// /revoke, /oauth/introspect, /logged-out and /healthz.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const healthPath = "/healthz"

func main() {
	addr := flag.String("addr", "127.0.0.1:5556", "host:port to listen on (that address only)")
	issuer := flag.String("issuer", "", "the issuer URL, without a path (default: http://<addr>)")
	realmPath := flag.String("realm", "", "the realm file (JSON: clients and people), read at every lookup (required)")
	keyPath := flag.String("key", "", "PEM file of the RSA signing key, made when missing (required)")
	audience := flag.String("audience", "partnerhub", "the audience (aud) of access tokens, besides the client id")
	accessTTL := flag.Duration("access-token-lifetime", 15*time.Minute, "how long an access token is valid")
	idTTL := flag.Duration("id-token-lifetime", 15*time.Minute, "how long an ID token is valid")
	refreshTTL := flag.Duration("refresh-token-lifetime", 8*time.Hour,
		"how long a refresh token is valid (each refresh gives a new one; all are lost at a restart)")
	flag.Parse()
	if *realmPath == "" || *keyPath == "" {
		log.Fatal("-realm and -key are required")
	}
	if *issuer == "" {
		*issuer = "http://" + *addr
	}
	if err := checkAddrAndIssuer(*addr, *issuer); err != nil {
		log.Fatal(err)
	}
	for name, d := range map[string]time.Duration{"access-token-lifetime": *accessTTL, "id-token-lifetime": *idTTL, "refresh-token-lifetime": *refreshTTL} {
		if d <= 0 {
			log.Fatalf("-%s must be positive", name)
		}
	}

	logger := slog.New(captureHandler{slog.NewTextHandler(os.Stderr, nil)})
	slog.SetDefault(logger) // the library logs with the default logger

	key, created, err := loadOrCreateKey(*keyPath)
	if err != nil {
		log.Fatalf("signing key: %v", err)
	}
	realm := &realmFile{path: *realmPath, logger: logger}
	realm.read() // logs now what is wrong with it, if anything
	s := newStorage(realm, key, settings{
		audience:             *audience,
		accessTokenLifetime:  *accessTTL,
		idTokenLifetime:      *idTTL,
		refreshTokenLifetime: *refreshTTL,
	})
	handler, err := newHandler(*issuer, s, logger)
	if err != nil {
		log.Fatal(err)
	}

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	logger.Info("oidc provider listening", "addr", listener.Addr().String(), "issuer", *issuer,
		"realm", *realmPath, "key", *keyPath, "kid", key.ID(), "key_created", created)

	select {
	case err := <-served:
		log.Fatal(err)
	case <-ctx.Done():
	}
	logger.Info("stopping")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdown); err != nil {
		logger.Warn("shutdown", "error", err)
	}
}

// checkAddrAndIssuer refuses an address without a host (it would listen on
// every interface) and an issuer that is not a bare http(s) origin.
func checkAddrAndIssuer(addr, issuer string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("-addr %q: name the host (127.0.0.1) to listen on", addr)
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("-issuer %q: it must be http(s)://host[:port], without a path", issuer)
	}
	return nil
}

// newHandler is the whole provider: the library's endpoints, the sign-in and
// signed-out pages and /healthz, every request logged (logRequests).
func newHandler(issuer string, s *storage, logger *slog.Logger) (http.Handler, error) {
	config := &op.Config{
		DefaultLogoutRedirectURI: loggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail,
			oidc.ScopeOfflineAccess},
		SupportedClaims: append(slices.Clone(op.DefaultSupportedClaims),
			"jti", "scope", "partnerhub_role", "partner_id"),
	}
	// The key encrypts authorization codes (the auth request's id), which do
	// not outlive the process, so a new one at every start is enough.
	_, _ = rand.Read(config.CryptoKey[:]) // crypto/rand.Read does not return errors
	var options []op.Option
	secure := true
	if u, _ := url.Parse(issuer); u.Scheme == "http" {
		options = append(options, op.WithAllowInsecure())
		secure = false
	}
	provider, err := op.NewProvider(config, s, op.StaticIssuer(issuer), options...)
	if err != nil {
		return nil, errors.Join(errors.New("the OIDC provider"), err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	// The issuer interceptor puts the issuer into the request's context, where
	// op.AuthCallbackURL takes it from.
	mux.Handle(loginPath, op.NewIssuerInterceptor(provider.IssuerFromRequest).
		Handler(newLogin(s, op.AuthCallbackURL(provider), secure)))
	mux.HandleFunc("GET "+loggedOutPath, loggedOut)
	mux.Handle("/", clientOnlyIDTokens(provider.TokenEndpoint().Relative(), s.key, provider))
	return logRequests(logger, mux), nil
}
