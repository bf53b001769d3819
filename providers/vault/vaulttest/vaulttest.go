// Package vaulttest runs a real HashiCorp Vault dev server for tests. It is
// test support: nothing outside _test.go files should import it.
//
// The vault binary (v1.14.2, MPL-2.0) is built from module source by
// hack/build-vault.sh. Binary finds it in $KSEAL_VAULT, or else where the
// script writes it: ${KSEAL_CACHE:-$HOME/.cache/kseal}/vault-v1.14.2/vault.
//
// A dev server is in-memory, unsealed, has KV v2 mounted at secret/, and
// starts in well under a second. Start one per test package in TestMain and
// share it, and start extra ones only for tests that stop the server:
//
//	var srv *vaulttest.Server
//
//	func TestMain(m *testing.M) {
//		var err error
//		srv, err = vaulttest.Start()
//		if errors.Is(err, vaulttest.ErrBinaryNotFound) && os.Getenv("KSEAL_REQUIRE_TOOLS") == "" {
//			fmt.Fprintln(os.Stderr, "skipping Vault tests:", err)
//			os.Exit(0)
//		}
//		...
//		code := m.Run()
//		srv.Stop()
//		os.Exit(code)
//	}
//
// The server listens on a free loopback port only, runs with an empty
// environment (so it never touches the user's ~/.vault-token), and is stopped
// by its process id.
package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"
)

// Version is the Vault version hack/build-vault.sh builds.
const Version = "v1.14.2"

// BinaryEnvVar names the environment variable that holds the vault binary's
// path; `make test` sets it from hack/build-vault.sh.
const BinaryEnvVar = "KSEAL_VAULT"

// ErrBinaryNotFound is returned (wrapped) by Binary and Start when there is
// no vault binary.
var ErrBinaryNotFound = errors.New("vault binary not found (build it with hack/build-vault.sh)")

// startTimeout bounds how long Start waits for the server to answer.
const startTimeout = 30 * time.Second

// Binary returns the path of the vault binary: $KSEAL_VAULT when set, else
// the path hack/build-vault.sh writes to.
func Binary() (string, error) {
	bin := os.Getenv(BinaryEnvVar)
	if bin == "" {
		cache := os.Getenv("KSEAL_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("%w: no home directory for the default cache: %v", ErrBinaryNotFound, err)
			}
			cache = filepath.Join(home, ".cache", "kseal")
		}
		bin = filepath.Join(cache, "vault-"+Version, "vault")
	}
	info, err := os.Stat(bin)
	if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: no executable at %s", ErrBinaryNotFound, bin)
	}
	return bin, nil
}

// Server is a running Vault dev server.
type Server struct {
	// Addr is the server's URL, http://127.0.0.1:<port>.
	Addr string
	// RootToken is the dev server's root token (random per server).
	RootToken string
	// CACert is the PEM CA certificate of a StartTLS server; nil for
	// plain http.
	CACert []byte

	// cmd is the server process.
	cmd *exec.Cmd
	// exited is closed when the process has exited; err then holds Wait's
	// result.
	exited chan struct{}
	err    error
	// log collects the server's output, for error messages.
	log *boundedBuffer
	// dir is the server's temporary home directory.
	dir      string
	stopOnce sync.Once
}

// Start starts a dev server from Binary() on a free loopback port and waits
// until it answers. On error nothing is left running.
func Start() (*Server, error) { return start(false) }

// StartTLS is Start with a TLS listener (vault server -dev-tls): Addr is
// https://, CACert verifies the server, and the listener asks for client
// certificates (Vault's cert auth method works).
func StartTLS() (*Server, error) { return start(true) }

func start(withTLS bool) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	// The free port is found by binding and releasing it; another process
	// can take it in between, so try a few times.
	for range 3 {
		s, err := startOnce(bin, withTLS)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(bin string, withTLS bool) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vaulttest-")
	if err != nil {
		return nil, err
	}
	token := randomToken()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"server", "-dev", "-dev-root-token-id=" + token, "-dev-listen-address=" + addr, "-log-level=warn"}
	scheme := "http://"
	if withTLS {
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+dir)
		scheme = "https://"
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// Nothing from the caller's environment: no VAULT_* settings, and HOME
	// points at a temporary directory, where the dev server writes its
	// token file.
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
	log := &boundedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = log, log
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("vaulttest: start %s: %w", bin, err)
	}
	s := &Server{
		Addr:      scheme + addr,
		RootToken: token,
		cmd:       cmd,
		exited:    make(chan struct{}),
		log:       log,
		dir:       dir,
	}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls sys/health until the server is unsealed and active.
func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	withTLS := strings.HasPrefix(s.Addr, "https://")
	for {
		if withTLS {
			// Read until the server answers: the file may be half written.
			if ca, err := os.ReadFile(filepath.Join(s.dir, "vault-ca.pem")); err == nil {
				s.CACert = ca
				client.Transport = s.transport()
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Addr+"/v1/sys/health", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("vaulttest: vault exited before it was ready (%v):\n%s", s.err, s.log.String())
		case <-ctx.Done():
			return fmt.Errorf("vaulttest: vault not ready after %s:\n%s", startTimeout, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID returns the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop stops the server by its process id (SIGTERM, then SIGKILL after five
// seconds) and removes its temporary directory. It may be called more than
// once.
func (s *Server) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		defer os.RemoveAll(s.dir)
		select {
		case <-s.exited:
			return
		default:
		}
		if e := s.cmd.Process.Signal(syscall.SIGTERM); e != nil {
			err = fmt.Errorf("vaulttest: signal pid %d: %w", s.PID(), e)
		}
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	return err
}

// Client returns a Vault API client for the server with the root token. It
// ignores VAULT_* environment variables.
func (s *Server) Client() (*api.Client, error) {
	cfg := &api.Config{Address: s.Addr}
	if s.CACert != nil {
		cfg.HttpClient = &http.Client{Transport: s.transport()}
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(s.RootToken)
	c.ClearNamespace()
	return c, nil
}

// Log returns what the server has written to stdout and stderr (the last
// 64 KiB).
func (s *Server) Log() string { return s.log.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("vaulttest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "root-" + hex.EncodeToString(b)
}

// boundedBuffer keeps the last max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// transport trusts the server's CA certificate, read from the directory
// -dev-tls writes it to (it appears once the server has started).
func (s *Server) transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}
	if s.CACert != nil {
		t.TLSClientConfig.RootCAs.AppendCertsFromPEM(s.CACert)
	}
	return t
}
