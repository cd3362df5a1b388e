package main

// The library gives the ID token of a token response the audience of its
// access token (both come from the request's GetAudience), and that holds
// the services' audience. An ID token carries partnerhub_role and partner_id
// too, so with it, it would pass as an access token wherever the audience is
// checked. clientOnlyIDTokens signs the ID token of every answer of the token
// endpoint again with the client (azp) as its only audience, as OpenID
// Connect Core 1.0 (section 2) has it; nothing else in it changes.

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/op"
)

func clientOnlyIDTokens(tokenPath string, key *signingKey, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tokenPath {
			next.ServeHTTP(w, r)
			return
		}
		answer := &bufferedResponse{header: make(http.Header), status: http.StatusOK}
		next.ServeHTTP(answer, r)
		body := answer.body.Bytes()
		if answer.status == http.StatusOK {
			var err error
			if body, err = withClientOnlyIDToken(body, key); err != nil {
				slog.ErrorContext(r.Context(), "token response", "error", err)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error":"server_error"}`))
				return
			}
		}
		for name, values := range answer.header {
			w.Header()[name] = values
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(answer.status)
		_, _ = w.Write(body)
	})
}

// withClientOnlyIDToken is a token response with its id_token's aud narrowed to its azp.
func withClientOnlyIDToken(body []byte, key *signingKey) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	var idToken string
	if raw, ok := fields["id_token"]; !ok {
		return body, nil
	} else if err := json.Unmarshal(raw, &idToken); err != nil {
		return nil, err
	}
	narrowed, err := clientOnlyAudience(idToken, key)
	if err != nil {
		return nil, err
	}
	if fields["id_token"], err = json.Marshal(narrowed); err != nil {
		return nil, err
	}
	return json.Marshal(fields)
}

func clientOnlyAudience(idToken string, key *signingKey) (string, error) {
	jws, err := jose.ParseSigned(idToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", err
	}
	payload, err := jws.Verify(&key.private.PublicKey)
	if err != nil {
		return "", err
	}
	var claims map[string]any
	decoder := json.NewDecoder(bytes.NewReader(payload))
	decoder.UseNumber() // the times stay as they are written
	if err := decoder.Decode(&claims); err != nil {
		return "", err
	}
	azp, _ := claims["azp"].(string)
	if azp == "" {
		return "", errors.New("an ID token without azp")
	}
	claims["aud"] = []string{azp}
	if payload, err = json.Marshal(claims); err != nil {
		return "", err
	}
	signer, err := op.SignerFromKey(key)
	if err != nil {
		return "", err
	}
	return crypto.SignPayload(payload, signer)
}

// bufferedResponse keeps a response to rewrite it.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}
