package vault

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func staticJWT(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}

func TestConfig_normalize(t *testing.T) {
	token := Auth{Token: "t"}
	tests := []struct {
		name    string
		cfg     Config
		want    func(Config) bool
		wantErr bool
	}{
		{
			name: "defaults",
			cfg:  Config{Server: "https://vault:8200", Auth: token},
			want: func(c Config) bool {
				return c.MountPath == "secret" && c.KVVersion == KVv2 && c.Timeout == defaultTimeout
			},
		},
		{
			name: "mount path slashes trimmed",
			cfg:  Config{Server: "http://127.0.0.1:8200", AllowHTTP: true, MountPath: "/team/kv/", KVVersion: KVv1, Auth: token},
			want: func(c Config) bool { return c.MountPath == "team/kv" && c.KVVersion == KVv1 },
		},
		{name: "no server", cfg: Config{Auth: token}, wantErr: true},
		{name: "http without opt-in", cfg: Config{Server: "http://127.0.0.1:8200", Auth: token}, wantErr: true},
		{name: "server without scheme", cfg: Config{Server: "vault:8200", Auth: token}, wantErr: true},
		{name: "unsupported scheme", cfg: Config{Server: "ftp://vault", Auth: token}, wantErr: true},
		{name: "bad KV version", cfg: Config{Server: "https://vault", KVVersion: "2", Auth: token}, wantErr: true},
		{name: "dot-dot mount", cfg: Config{Server: "https://vault", MountPath: "a/../sys", Auth: token}, wantErr: true},
		{name: "no auth", cfg: Config{Server: "https://vault"}, wantErr: true},
		{name: "two auth methods", cfg: Config{Server: "https://vault", Auth: Auth{Token: "t", AppRole: &AppRoleAuth{RoleID: "r", SecretID: "s"}}}, wantErr: true},
		{name: "approle without secret id", cfg: Config{Server: "https://vault", Auth: Auth{AppRole: &AppRoleAuth{RoleID: "r"}}}, wantErr: true},
		{name: "kubernetes without role", cfg: Config{Server: "https://vault", Auth: Auth{Kubernetes: &KubernetesAuth{JWT: staticJWT("j")}}}, wantErr: true},
		{name: "kubernetes without token source", cfg: Config{Server: "https://vault", Auth: Auth{Kubernetes: &KubernetesAuth{Role: "r"}}}, wantErr: true},
		{name: "jwt without token source", cfg: Config{Server: "https://vault", Auth: Auth{JWT: &JWTAuth{Role: "r"}}}, wantErr: true},
		{name: "CA bundle and HTTP client", cfg: Config{Server: "https://vault", Auth: token, CABundle: []byte("x"), HTTPClient: http.DefaultClient}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.normalize()
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("error %v, want ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(got) {
				t.Errorf("normalized to %+v", got)
			}
		})
	}
}

func TestConfig_httpClient(t *testing.T) {
	_, err := Config{CABundle: []byte("not PEM")}.httpClient()
	if !errors.Is(err, ErrConfig) {
		t.Errorf("CA bundle without certificates: %v", err)
	}
	own := &http.Client{Timeout: 7 * time.Second}
	if c, _ := (Config{HTTPClient: own}).httpClient(); c == nil || c.Timeout != own.Timeout || c.Transport == nil {
		t.Errorf("HTTPClient not used, or its responses not limited")
	}
}

// TestAuth_login checks the login request each method sends. (The methods
// log in against a real Vault in auth_test.go.)
func TestAuth_login(t *testing.T) {
	tests := []struct {
		name     string
		auth     Auth
		wantPath string
		wantBody map[string]any
	}{
		{
			name:     "static token",
			auth:     Auth{Token: "t"},
			wantPath: "",
		},
		{
			name:     "approle default mount",
			auth:     Auth{AppRole: &AppRoleAuth{RoleID: "r", SecretID: "s"}},
			wantPath: "auth/approle/login",
			wantBody: map[string]any{"role_id": "r", "secret_id": "s"},
		},
		{
			name:     "approle own mount",
			auth:     Auth{AppRole: &AppRoleAuth{Path: "/team/approle/", RoleID: "r", SecretID: "s"}},
			wantPath: "auth/team/approle/login",
			wantBody: map[string]any{"role_id": "r", "secret_id": "s"},
		},
		{
			name:     "kubernetes default mount",
			auth:     Auth{Kubernetes: &KubernetesAuth{Role: "kseal", JWT: staticJWT("sa-token")}},
			wantPath: "auth/kubernetes/login",
			wantBody: map[string]any{"role": "kseal", "jwt": "sa-token"},
		},
		{
			name:     "kubernetes own mount",
			auth:     Auth{Kubernetes: &KubernetesAuth{MountPath: "k8s-prod", Role: "kseal", JWT: staticJWT("sa-token")}},
			wantPath: "auth/k8s-prod/login",
			wantBody: map[string]any{"role": "kseal", "jwt": "sa-token"},
		},
		{
			name:     "jwt default role",
			auth:     Auth{JWT: &JWTAuth{JWT: staticJWT("a.b.c")}},
			wantPath: "auth/jwt/login",
			wantBody: map[string]any{"jwt": "a.b.c"},
		},
		{
			name:     "jwt with role",
			auth:     Auth{JWT: &JWTAuth{Path: "oidc", Role: "kseal", JWT: staticJWT("a.b.c")}},
			wantPath: "auth/oidc/login",
			wantBody: map[string]any{"role": "kseal", "jwt": "a.b.c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.auth.login()
			if err != nil {
				t.Fatal(err)
			}
			if m == nil {
				if tt.wantPath != "" {
					t.Fatalf("no login method, want %s", tt.wantPath)
				}
				return
			}
			if m.path != tt.wantPath {
				t.Errorf("path %q, want %q", m.path, tt.wantPath)
			}
			body, err := m.body(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(body, tt.wantBody) {
				t.Errorf("body %v, want %v", body, tt.wantBody)
			}
		})
	}
}

// The token source runs for every login, so a short-lived service account
// token is requested fresh each time; its errors are returned.
func TestAuth_loginTokenSource(t *testing.T) {
	calls := 0
	m, err := Auth{Kubernetes: &KubernetesAuth{Role: "r", JWT: func(context.Context) (string, error) {
		calls++
		if calls == 2 {
			return "", errors.New("token request refused")
		}
		if calls == 3 {
			return "", nil
		}
		return "tok", nil
	}}}.login()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.body(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.body(context.Background()); err == nil {
		t.Errorf("source error not returned")
	}
	if _, err := m.body(context.Background()); err == nil {
		t.Errorf("empty token accepted")
	}
	if calls != 3 {
		t.Errorf("source called %d times, want 3", calls)
	}
}

func TestProvider_key(t *testing.T) {
	v2 := &Provider{cfg: Config{MountPath: "secret", KVVersion: KVv2}}
	v1 := &Provider{cfg: Config{MountPath: "kv", KVVersion: KVv1}}
	tests := []struct {
		p       *Provider
		key     string
		want    string
		wantErr bool
	}{
		{p: v2, key: "app/db", want: "app/db"},
		{p: v2, key: "/app/db/", want: "app/db"},
		{p: v2, key: "secret/app/db", want: "app/db"},
		{p: v2, key: "secret/data/app/db", want: "app/db"},
		{p: v2, key: "secretive/app", want: "secretive/app"},
		{p: v1, key: "kv/data/app", want: "data/app"},
		{p: v1, key: "kv/app", want: "app"},
		{p: v2, key: "", wantErr: true},
		{p: v2, key: "a//b", wantErr: true},
		{p: v2, key: "a/../../sys/raw", wantErr: true},
		{p: v2, key: "./a", wantErr: true},
	}
	for _, tt := range tests {
		got, err := tt.p.key(tt.key)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("key(%q) on %s = %q, %v; want %q (error %v)", tt.key, tt.p.cfg.KVVersion, got, err, tt.want, tt.wantErr)
		}
	}
}
