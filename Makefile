# kseal — make targets. `make demo` and `make test` set up everything they
# need on a fresh machine (Go toolchain required) and reuse caches under
# $(KSEAL_CACHE).
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

export KSEAL_CACHE ?= $(HOME)/.cache/kseal
GO ?= go
FUZZTIME ?= 3s
BENCHTIME ?= 1s
BENCHCOUNT ?= 6

# Version stamped into binaries, images and archives (kseal version,
# kseal-controller --version): the git tag or commit, "dev" outside git.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Creation time of images and archives (reproducible: the commit's time).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
VERSION_PKG := github.com/kseal-dev/kseal/internal/version
LDFLAGS := -X $(VERSION_PKG).version=$(VERSION) -X $(VERSION_PKG).commit=$(COMMIT)
# make image: platforms of the image index, and the name the images get.
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
IMAGE_REPOSITORY ?= ghcr.io/kseal-dev
# make release-snapshot: platforms of the archives; the krew manifest is
# written only for all of them.
RELEASE_PLATFORMS_ALL := linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64
RELEASE_PLATFORMS ?= $(RELEASE_PLATFORMS_ALL)

.PHONY: all build image release-snapshot test unit envtest kubeseal bitnami vault flux eso-crds generate verify-generated lint fuzz bench demo clean

all: build

## build: both binaries into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/kseal ./cmd/kseal
	@if [ -d cmd/kseal-controller ]; then CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/kseal-controller ./cmd/kseal-controller; fi

## image: OCI images of the controller and the Argo CD plugin sidecar
## (IMAGE_PLATFORMS), no Docker needed: bin/image/<name>/ (OCI layout) and
## bin/image/<name>.tar; see docs/install.md#images
image:
	$(GO) run ./hack/image -out bin/image -platforms $(IMAGE_PLATFORMS) -repository $(IMAGE_REPOSITORY) \
		-version $(VERSION) -commit $(COMMIT) -created $(SOURCE_DATE_EPOCH)

## release-snapshot: CLI (and linux controller) archives for RELEASE_PLATFORMS
## with checksums.txt and the krew manifest, into bin/release/
release-snapshot:
	$(GO) run ./hack/release -out bin/release -platforms $(RELEASE_PLATFORMS) \
		-krew=$(if $(filter $(RELEASE_PLATFORMS_ALL),$(RELEASE_PLATFORMS)),true,false) \
		-version $(VERSION) -commit $(COMMIT) -created $(SOURCE_DATE_EPOCH)

## envtest: build kube-apiserver and etcd from module source (cached, idempotent)
envtest:
	@hack/build-envtest.sh >/dev/null

## kubeseal: build the real kubeseal v0.40.0 for compatibility tests (cached)
kubeseal:
	@hack/build-kubeseal.sh >/dev/null

## bitnami: build Bitnami's sealed-secrets controller v0.40.0 and copy its CRD, for the takeover e2e test and make bench-scale (cached)
bitnami:
	@hack/build-bitnami.sh >/dev/null

## flux: build Flux's kustomize-controller v1.9.6 and copy its CRDs for the Flux e2e test (cached)
flux:
	@hack/build-flux.sh >/dev/null

## eso-crds: copy External Secrets Operator's CRDs from its Go module, for the takeover tests (cached)
eso-crds:
	@hack/eso-crds.sh >/dev/null

## vault: build a Vault v1.14.2 dev server for provider tests (cached)
vault:
	@hack/build-vault.sh >/dev/null

## generate: deepcopy code and CRDs from the API types
generate:
	hack/controller-gen.sh object paths=./api/...
	hack/controller-gen.sh crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/*.yaml charts/kseal/crds/
	hack/controller-gen.sh rbac:roleName=kseal-controller paths=./controllers/... output:rbac:artifacts:config=config/rbac

## verify-generated: fail when generated files differ from the API types
verify-generated:
	@hack/verify-generated.sh

## lint: gofmt and go vet
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './hack/tools/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## test: everything — lint, generated files, unit, envtest suites, kubeseal compatibility, fuzz smoke
test: lint verify-generated envtest kubeseal vault flux bitnami eso-crds
	KUBEBUILDER_ASSETS="$$(hack/build-envtest.sh)" \
	KSEAL_KUBESEAL="$$(hack/build-kubeseal.sh)" \
	KSEAL_BITNAMI="$$(hack/build-bitnami.sh)" \
	KSEAL_VAULT="$$(hack/build-vault.sh)" \
	KSEAL_FLUX="$$(hack/build-flux.sh)" \
	KSEAL_ESO_CRDS="$$(hack/eso-crds.sh)" \
	KSEAL_REQUIRE_TOOLS=1 \
	$(GO) test -count=1 -timeout 30m ./...
	@$(MAKE) --no-print-directory fuzz

## unit: tests that need no control plane (skips envtest suites; Vault tests use the cached dev server when built, else skip)
unit:
	$(GO) test ./api/... ./crypto/... ./httpapi/... ./controllers/... ./providers/... ./kubeseal-like-cli/...

## fuzz: run every fuzz target for FUZZTIME
fuzz:
	@hack/fuzz.sh $(FUZZTIME)

## bench: Go benchmarks (seal/unseal, v1/v2)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./crypto/...

## demo: offline sealing, then the controller on a local control plane (no cluster needed);
## builds what it needs, Vault in the background while the rest runs
demo:
	@GO="$(GO)" hack/demo.sh

clean:
	rm -rf bin

## test-kcm: the rollout restart test with a real Deployment controller:
## builds kube-controller-manager from the kube-apiserver's Kubernetes module
## (hack/build-kcm.sh, cached under $KSEAL_CACHE) and runs
## TestRolloutRestart_deploymentControllerRolls.
.PHONY: test-kcm
test-kcm: envtest
	KSEAL_KUBE_CONTROLLER_MANAGER="$$(hack/build-kcm.sh)" KUBEBUILDER_ASSETS="$$(hack/build-envtest.sh)" KSEAL_REQUIRE_TOOLS=1 \
	$(GO) test -count=1 -run '^TestRolloutRestart_deploymentControllerRolls$$' -v ./test/e2e

## bench-reload: rollout restarts at scale (test/scale TestReloadScale):
## RELOAD_N Deployments and SealedSecrets, 10% of the SealedSecrets changed at
## once; RELOAD_ARGS: extra controller flags (e.g. --rollout-restart-rate=1000).
RELOAD_N ?= 1000
RELOAD_ARGS ?=
.PHONY: bench-reload
bench-reload: build envtest
	KUBEBUILDER_ASSETS="$$(hack/build-envtest.sh)" KSEAL_REQUIRE_TOOLS=1 \
	$(GO) test -count=1 -run '^TestReloadScale$$' -timeout 60m -v ./test/scale -args \
		-scale.reload=$(RELOAD_N) -scale.reload-args="$(RELOAD_ARGS)" -scale.controller=bin/kseal-controller

## bench-scale: the cluster-scale harness (test/scale): 100, 1,000 and 5,000
## SealedSecrets (v1 and v2), 1,000 ExternalSecrets, both together, and
## Bitnami's controller on the same v1 data (kseal ÷ Bitnami); writes
## bin/scale-results.md and docs/scale-time-to-ready.png (about 15 minutes).
## SCALE_BITNAMI=0 leaves Bitnami's controller out.
## SCALE_ARGS: extra controller flags; SCALE_FLAGS: extra harness flags
## (-scale.perf=DIR, -scale.heap=DIR, -scale.env=..., see test/scale).
## The optional large size, 20,000 v2 SealedSecrets alone (cold start,
## restart, the targets for that size; 10-30 minutes, mostly creating the
## objects), report in bin/scale-20000.md, chart left alone:
##   make bench-scale SCALE_N=20000 SCALE_ES=0 SCALE_BITNAMI=0 SCALE_FLAGS="-scale.formats=v2 -scale.mixed=false -scale.phase-timeout=45m -scale.report=bin/scale-20000.md -scale.png="
SCALE_N ?= 100,1000,5000
SCALE_ES ?= 1000
SCALE_ARGS ?=
SCALE_FLAGS ?=
SCALE_BITNAMI ?= 1
.PHONY: bench-scale
bench-scale: build envtest $(if $(filter 1,$(SCALE_BITNAMI)),bitnami)
	KUBEBUILDER_ASSETS="$$(hack/build-envtest.sh)" KSEAL_REQUIRE_TOOLS=1 \
	$(GO) test -count=1 -run '^TestScale$$' -timeout 120m -v ./test/scale -args \
		-scale.bitnami="$(if $(filter 1,$(SCALE_BITNAMI)),$$(hack/build-bitnami.sh))" \
		-scale.n=$(SCALE_N) -scale.es=$(SCALE_ES) -scale.args="$(SCALE_ARGS)" \
		-scale.controller=bin/kseal-controller \
		-scale.report=bin/scale-results.md -scale.png=docs/scale-time-to-ready.png $(SCALE_FLAGS)
