# The operator's version: the CSV's, the bundle's and the default image tag.
VERSION ?= 0.1.0
# Image URL to use all building/pushing image targets
IMAGE_TAG_BASE ?= ghcr.io/opennebula-operator/opennebula-operator
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)
# YEAR defines the year value used for substituting the YEAR placeholder in the boilerplate header.
YEAR ?= 2026

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

# Versions and cache locations come from one place, hack/versions.sh: the Kubernetes
# binaries are built from the Go module proxy and cached outside the clone.
# K8S_VERSION (or ENVTEST_K8S_VERSION) chooses the Kubernetes of the tests and the local
# cluster: newest (default), oldest, a tested minor such as 1.32, or a full version.
VERSIONS := $(shell K8S_VERSION='$(K8S_VERSION)' ENVTEST_K8S_VERSION='$(ENVTEST_K8S_VERSION)' \
	bash -c 'source hack/versions.sh && echo "$$K8S_BIN_DIR $$ENVTEST_VERSION $$K8S_VERSION $$K8S_MIN_KUBE_VERSION"')
$(if $(word 4,$(VERSIONS)),,$(error hack/versions.sh refused K8S_VERSION=$(K8S_VERSION) ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION)))
K8S_BIN_DIR := $(word 1,$(VERSIONS))
ENVTEST_K8S_VERSION := $(word 2,$(VERSIONS))
# Exported resolved, so that every script a recipe runs (and the e2e tests, which source
# hack/versions.sh) uses the same Kubernetes.
override export K8S_VERSION := $(word 3,$(VERSIONS))
K8S_MIN_KUBE_VERSION := $(word 4,$(VERSIONS))

CONTAINER_TOOL ?= docker

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Main jobs

.PHONY: demo
demo: ## Run the operator on a local cluster (kwok) with config/samples/ until the frontend is Ready.
	hack/demo.sh

.PHONY: demo-down
demo-down: ## Remove the demo cluster and stop its manager and provisioner.
	hack/local-cluster.sh down

.PHONY: test
test: manifests generate fmt vet envtest-assets ## Run unit and envtest integration tests (real kube-apiserver + etcd).
	KUBEBUILDER_ASSETS="$$("$(ENVTEST)" use -i $(ENVTEST_K8S_VERSION) -p path)" \
		go test $$(go list ./... | grep -v /test/e2e) -coverprofile cover.out

.PHONY: test-oned
test-oned: ## Run the oned conformance suite, the hosts and clusters sync and the Raft zone lifecycle against real oned 7.2 processes on loopback (builds oned from source once, cached).
	ONED_PREFIX="$$(hack/build-oned.sh)" go test -tags oned -p 1 ./internal/oned/conformance/ ./internal/fleet/ ./internal/raft/ -run 'TestRealOned' -count=1 -v -timeout 30m

.PHONY: test-sshd
test-sshd: ## Run the SSH server sidecar's script and sshd_config with Debian's openssh-server as oneadmin on loopback (needs root: installs openssh-server and the oneadmin user when missing).
	hack/test-sshd.sh

.PHONY: record-oned
record-oned: ## Record real oned's answers into internal/oned/testdata (the client's unit tests decode them).
	mkdir -p internal/oned/testdata
	ONED_PREFIX="$$(hack/build-oned.sh)" ONED_RECORD="$(CURDIR)/internal/oned/testdata" \
		go test -tags oned ./internal/oned/ -run 'TestRecordAnswers' -count=1 -v -timeout 10m

.PHONY: oned
oned: ## Build oned 7.2.0 from its source archive into the cache (hack/build-oned.sh; about 5 minutes cold).
	hack/build-oned.sh

.PHONY: test-e2e
test-e2e: manifests generate build k8s-binaries ## Run the e2e tests on a local cluster (real controller-manager, scheduler, kwok nodes).
	go test -tags=e2e ./test/e2e/ -v -count=1 -timeout 20m

FUZZTIME ?= 15s
.PHONY: fuzz
fuzz: envtest-assets ## Fuzz the builders, the render YAML reader and admission against a real API server for FUZZTIME each (seed corpus: testdata/fuzz).
	go test ./internal/builder -run '^$$' -fuzz FuzzBuild -fuzztime $(FUZZTIME)
	go test ./internal/render -run '^$$' -fuzz FuzzRender -fuzztime $(FUZZTIME)
	KUBEBUILDER_ASSETS="$$("$(ENVTEST)" use -i $(ENVTEST_K8S_VERSION) -p path)" \
		go test ./test/admitted -run '^$$' -fuzz FuzzAdmittedFrontendsRenderValidChildren -fuzztime $(FUZZTIME) -parallel 1

BENCH_HOSTS ?= 1000
BENCH_N ?= 10,100,500
.PHONY: bench
bench: build k8s-binaries envtest-assets ## Benchmark on local clusters: convergence vs the raw limit, requests, steady-state writes, memory, latency (writes docs/benchmarks.md), then the HA zones (bench-ha).
	go run ./hack/bench -n $(BENCH_N)
	$(MAKE) bench-ha

BENCH_HA ?= 10,50
.PHONY: bench-ha
bench-ha: envtest-assets ## Benchmark Raft HA zones: BENCH_HA zones of 3 double servers in envtest, what they cost at rest and the failover time (writes docs/benchmarks-ha.md).
	KUBEBUILDER_ASSETS="$$("$(ENVTEST)" use -i $(ENVTEST_K8S_VERSION) -p path)" \
		go run ./hack/bench -ha $(BENCH_HA) -out docs/benchmarks-ha

.PHONY: bench-hosts
bench-hosts: build k8s-binaries ## Benchmark OpenNebulaHosts: BENCH_HOSTS (1000) hosts of one frontend against the raw limit of oned calls (writes docs/benchmarks-hosts.md).
	go run ./hack/bench -hosts $(BENCH_HOSTS) -out docs/benchmarks-hosts

.PHONY: bench-smoke
bench-smoke: build k8s-binaries envtest-assets ## The benchmark at a small N, checking correctness only (all Ready, zero steady-state writes; 2 HA zones at rest write nothing).
	go run ./hack/bench -smoke -n 5 -updates 3 -unrelated 20
	KUBEBUILDER_ASSETS="$$("$(ENVTEST)" use -i $(ENVTEST_K8S_VERSION) -p path)" \
		go run ./hack/bench -smoke -ha 2

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate ClusterRole and CustomResourceDefinition objects.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/crd-tidy config/crd/bases/*.yaml

.PHONY: generate
generate: controller-gen ## Generate DeepCopy implementations.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt",year=$(YEAR) paths="./..."

.PHONY: verify-generated
verify-generated: manifests generate build-installer bundle ## Fail when committed generated files are stale.
	hack/check-versions.sh
	@git diff --exit-code -- api config dist bundle bundle.Dockerfile || { \
		echo "generated files are stale: run 'make manifests generate' and commit the result" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- api config dist bundle bundle.Dockerfile)" || { \
		git status --porcelain -- api config dist bundle bundle.Dockerfile; echo "untracked generated files: commit them" >&2; exit 1; }

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...
	go vet -tags=e2e ./test/...
	go vet -tags=oned,sshd,habench ./internal/...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint linter
	"$(GOLANGCI_LINT)" run --build-tags=e2e,oned,sshd,habench

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint linter and perform fixes
	"$(GOLANGCI_LINT)" run --build-tags=e2e,oned,sshd,habench --fix

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build manager binary.
	go build -o bin/manager ./cmd

.PHONY: run
run: manifests generate fmt vet ## Run a controller from your host against the cluster in ~/.kube/config.
	go run ./cmd

.PHONY: render
render: ## Print the objects the operator would create for the samples (no cluster needed).
	go run ./cmd render -f config/samples/opennebula_v1alpha1_opennebulafrontend.yaml

# The SSH server sidecar's image (images/sshd), the default of spec.ssh.image.
SSHD_IMG ?= ghcr.io/opennebula-operator/opennebula-sshd:v$(VERSION)

.PHONY: docker-build-sshd
docker-build-sshd: ## Build the SSH server sidecar's image (images/sshd/Dockerfile).
	$(CONTAINER_TOOL) build -t ${SSHD_IMG} images/sshd

.PHONY: docker-build
docker-build: ## Build docker image with the manager.
	$(CONTAINER_TOOL) build -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push docker image with the manager.
	$(CONTAINER_TOOL) push ${IMG}

.PHONY: build-installer
build-installer: manifests generate kustomize ## Generate dist/install.yaml: CRD, namespace, RBAC, manager Deployment, metrics Service.
	mkdir -p dist
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default > dist/install.yaml

.PHONY: bundle
bundle: manifests generate kustomize ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | go run ./hack/bundle --version $(VERSION) --image $(IMG) --min-kube-version $(K8S_MIN_KUBE_VERSION) --out bundle

.PHONY: bundle-build
bundle-build: ## Build the bundle image.
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(IMAGE_TAG_BASE)-bundle:v$(VERSION) .

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install CRDs into the K8s cluster specified in ~/.kube/config.
	"$(KUSTOMIZE)" build config/crd | "$(KUBECTL)" apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall CRDs from the K8s cluster specified in ~/.kube/config.
	"$(KUSTOMIZE)" build config/crd | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy controller to the K8s cluster specified in ~/.kube/config.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Undeploy controller from the K8s cluster specified in ~/.kube/config.
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
KUBECTL ?= $(K8S_BIN_DIR)/kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
ENVTEST ?= $(LOCALBIN)/setup-envtest
GOLANGCI_LINT = $(LOCALBIN)/golangci-lint

## Tool Versions
KUSTOMIZE_VERSION ?= v5.7.1
CONTROLLER_TOOLS_VERSION ?= v0.23.0
# setup-envtest only reads the local store here (use -i): hack/build-k8s-binaries.sh fills it.
ENVTEST_VERSION ?= v0.25.1
GOLANGCI_LINT_VERSION ?= v2.15.0

.PHONY: k8s-binaries
k8s-binaries: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok from the Go module proxy (cached).
	hack/build-k8s-binaries.sh all

.PHONY: envtest-assets
envtest-assets: envtest ## Build the envtest binaries (etcd, kube-apiserver, kubectl) into setup-envtest's store.
	hack/build-k8s-binaries.sh envtest
	@"$(ENVTEST)" use -i $(ENVTEST_K8S_VERSION) -p path >/dev/null

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: envtest
envtest: $(ENVTEST) ## Download setup-envtest locally if necessary.
$(ENVTEST): $(LOCALBIN)
	$(call go-install-tool,$(ENVTEST),sigs.k8s.io/controller-runtime/tools/setup-envtest,$(ENVTEST_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Download golangci-lint locally if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef
