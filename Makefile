# Front door: `make run` and `make test` set up whatever is missing (Debian packages, the Venus
# guest driver built from Debian's mesa source), then run. `make` alone builds the host.
BUILD ?= build

.PHONY: all run test guest deps clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	./scripts/install-deps.sh
	meson setup $(BUILD)

deps:
	./scripts/install-deps.sh

guest:
	./scripts/setup-guest-driver.sh

run: guest all
	$(BUILD)/pvgpu run -- vulkaninfo --summary

test: guest all
	meson test -C $(BUILD) --print-errorlogs --num-processes 1

clean:
	rm -rf $(BUILD)
