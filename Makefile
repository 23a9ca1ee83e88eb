# Front door: `make run` and `make test` set up whatever is missing (Debian packages, Debian's
# newest Vulkan headers, the guests: Mesa 22.3.6's Venus driver built from bookworm's source and
# Debian trixie and sid roots with their own Mesa), then run. `make` alone builds the host.
BUILD ?= build

# Seconds each fuzz target runs in `make fuzz`.
FUZZ_SECONDS ?= 60

.PHONY: all run test bench guest deps clean fuzz check-sanitizers check-valgrind vm

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	./scripts/install-deps.sh
	PVGPU_BUILD_DIR=$(abspath $(BUILD)) ./scripts/meson-setup.sh $(BUILD)

deps:
	./scripts/install-deps.sh

guest:
	PVGPU_BUILD_DIR=$(abspath $(BUILD)) ./scripts/setup-guest-driver.sh
	PVGPU_BUILD_DIR=$(abspath $(BUILD)) ./scripts/setup-guest-roots.sh trixie sid sid-vm
	PVGPU_BUILD_DIR=$(abspath $(BUILD)) ./scripts/setup-venus-protocol.sh trixie >/dev/null

run: guest all
	$(BUILD)/pvgpu run -- vulkaninfo --summary

# Seconds each fuzz target runs in `make test` (after its corpus replay in the suite).
TEST_FUZZ_SECONDS ?= 20

# The suite (fuzz corpus replays included), then the same suite under ASan and UBSan, a brief
# run of the fuzz targets that need no host driver (the handler target, a few dozen runs a
# second into lavapipe, is `make fuzz`'s), then the guest suite's native / reference host /
# pvgpu tables.
test: guest all
	meson test -C $(BUILD) --print-errorlogs --num-processes 1
	BUILD=$(BUILD) ./scripts/check-sanitizers.sh
	FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) FUZZ_TARGETS="vtest decoder ring" ./scripts/run-fuzzers.sh
	@cat $(BUILD)/tests/guest/out/*/table.md

# Every benchmark natively, through the reference host and through pvgpu (bench/README.md), on
# the 2022 guest (bookworm, the guest of the earlier tables) and on the current one (trixie);
# writes bench/results/<date>-<machine>-<guest>.md and both tables into bench/README.md and README.md.
bench: guest all
	/usr/bin/python3 bench/run.py --build-dir $(BUILD) --guest bookworm,trixie --update-readme

# libFuzzer targets in build-fuzz (clang), FUZZ_SECONDS each; new inputs stay in build-fuzz.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/run-fuzzers.sh

# A real VM: Debian's QEMU (trixie's 10.0 and sid's 11.1) with PearVisor GPU's
# libvirglrenderer.so.1 and with Debian's, the whole guest suite and rates inside (tests/vm).
vm: guest all
	BUILD=$(BUILD) ./scripts/vm.sh

check-sanitizers: guest
	BUILD=$(BUILD) ./scripts/check-sanitizers.sh

# The host under valgrind (memcheck, leaks included), context workers too.
check-valgrind: guest all
	BUILD=$(BUILD) ./scripts/check-valgrind.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
