# pinion - one Makefile for the binary, the tests, the demo and setup.
# `make` builds build/pinion; `make test` does all setup and runs every test;
# `make demo` does all setup, builds the example model and runs one prediction.

.DEFAULT_GOAL := all
CC ?= cc
PYTHON ?= /usr/bin/python3
SANITIZE ?=
MODULES := common oci registry compat runner assembler
# which module archives each module's tests link (modules depend downward only)
DEPS_common    := common
DEPS_oci       := oci common
DEPS_registry  := registry oci common
DEPS_compat    := compat common
DEPS_runner    := runner oci common
DEPS_assembler := assembler runner registry compat oci common

# B: the build directory (several checkouts' builds can live side by side)
ifeq ($(SANITIZE),)
B ?= build
else
B ?= build/san
endif

# libdeflate: the layer writer's gzip (oci/pgzip.c); zlib inflates
PKGS := libarchive jansson yaml-0.1 libcurl libzstd libcrypto zlib libdeflate
# optional: ISA-L's igzip inflates gzip layers (oci/lstream.c), zlib without it
PKGS_OPT_isal := libisal
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wvla -Wwrite-strings -Wno-missing-field-initializers -Werror
CFLAGS ?= -O2 -g
# pkg-config's flags are recorded in $(B)/config.mk.  Its rule installs the
# missing Debian packages first (pkg-config itself among them), so on a fresh
# machine one `make demo` / `make test` works: make builds the included file,
# then restarts and reads it.  Goals that compile nothing never run apt.
NOCONFIG_GOALS := clean format format-check deps check-fresh
ifneq ($(filter-out $(NOCONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(B)/config.mk
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -MMD -MP $(WARN) $(CFLAGS) $(PKG_CFLAGS)
LIBS := $(PKG_LIBS) -lpthread
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

.SECONDEXPANSION:
MAIN_SRC := assembler/cli/main.c
# a module's sources: its directory and its cli/ (the commands, in libassembler.a
# so that unit tests can link the option parser; main.c stays out)
srcs_of = $(filter-out $(MAIN_SRC),$(wildcard $(1)/*.c $(1)/cli/*.c))
SRCS := $(foreach m,$(MODULES),$(call srcs_of,$(m)))
# modules may add generated objects (embedded data) with EXTRA_OBJS_<module>
# and extra rules in <module>/module.mk
-include $(sort $(wildcard $(addsuffix /module.mk,$(MODULES)) $(addsuffix /*/module.mk,$(MODULES))))

objs_of = $(patsubst %.c,$(B)/%.o,$(call srcs_of,$(1))) $(EXTRA_OBJS_$(1))
ALL_OBJS := $(patsubst %.c,$(B)/%.o,$(SRCS)) $(foreach m,$(MODULES),$(EXTRA_OBJS_$(m)))
ARCHIVES := $(foreach m,$(MODULES),$(B)/lib/lib$(m).a)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
# the unit tests' helpers (tests/unit/X.c with its X.h: tap, standin): every test links them
UNIT_HELPERS := $(patsubst tests/unit/%.c,$(B)/tests/%.o,$(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c)))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
# module of a test or fuzz file: the word after test_/fuzz_
mod_of = $(word 2,$(subst _, ,$(notdir $(1))))
libs_for = $(foreach m,$(DEPS_$(call mod_of,$(1))),$(B)/lib/lib$(m).a)

$(B)/config.mk: Makefile tests/tools/deps.sh
	@sh tests/tools/deps.sh check-or-install
	@mkdir -p $(dir $@)
	@cf=$$(pkg-config --cflags $(PKGS)) && libs=$$(pkg-config --libs $(PKGS)) || { \
		echo "make: pkg-config does not find $(PKGS): run \`make deps\` as root" >&2; exit 1; }; \
	if pkg-config --exists $(PKGS_OPT_isal); then cf="$$cf -DPN_HAVE_ISAL $$(pkg-config --cflags \
		$(PKGS_OPT_isal))"; libs="$$libs $$(pkg-config --libs $(PKGS_OPT_isal))"; fi; \
	printf 'PKG_CFLAGS := %s\nPKG_LIBS := %s\n' "$$cf" "$$libs" >$@.tmp && mv $@.tmp $@

.PHONY: all deps test unit check-build demo clean format format-check fuzz bench check-fresh \
	man install uninstall
all: deps-quiet $(B)/pinion

$(B)/pinion: $(B)/assembler/cli/main.o $(ALL_OBJS)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

define archive_rule
$(B)/lib/lib$(1).a: $(call objs_of,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	@ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call archive_rule,$(m))))

# Unit tests link whole archives so the command section is kept where used.
$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $$(call libs_for,$$*) $(UNIT_HELPERS)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_HELPERS) \
		-Wl,--start-group $(call libs_for,$*) -Wl,--end-group $(LIBS)
$(UNIT_HELPERS): $(B)/tests/%.o: tests/unit/%.c tests/unit/%.h
	@mkdir -p $(dir $@)
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Fuzz targets: built with a replay driver for `make test`; `make fuzz` builds
# libFuzzer binaries with clang.
$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $$(call libs_for,$$*)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		-Wl,--start-group $(call libs_for,$*) -Wl,--end-group $(LIBS)
# Run one: build/libfuzzer/fuzzers/fuzz_oci_apply tests/fuzz/corpus/oci_apply -max_total_time=60
fuzz:
	$(MAKE) CC=clang SANITIZE=fuzzer,address,undefined B=build/libfuzzer fuzz-bins
fuzz-bins: $(patsubst tests/fuzz/%.c,$(B)/fuzzers/%,$(FUZZ_SRCS))
$(B)/fuzzers/%: tests/fuzz/%.c $$(call libs_for,$$*)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(call libs_for,$*) -Wl,--end-group $(LIBS)

check-build: $(B)/pinion $(UNIT_BINS) $(FUZZ_BINS) $(TEST_EXTRA)

# Installs what the build and the tests need; as non-root prints the command.
deps:
	@sh tests/tools/deps.sh install
deps-quiet:
	@sh tests/tools/deps.sh check-or-install

unit: deps-quiet check-build
	@PINION_BUILD=$(B) sh tests/run.sh unit

test: deps-quiet check-build
	@PINION_BUILD=$(B) PYTHON=$(PYTHON) sh tests/run.sh all

demo: deps-quiet $(B)/pinion $(DEMO_DEPS)
	@PINION_BUILD=$(B) sh examples/demo.sh

bench: deps-quiet $(B)/pinion
	@PINION_BUILD=$(B) sh bench/run.sh

# The README's `make demo` and `make test` on a fresh Debian 12 root (committed
# HEAD, as root, after pivot_root); ~15 minutes.  See tests/tools/check_fresh.sh.
check-fresh:
	@bash tests/tools/check_fresh.sh

# `make install PREFIX=/usr/local DESTDIR=`: the binary, the man pages
# pinion(1) and pinion-CMD(1), and the bash and zsh completion.  The pages are
# rendered by the binary from the option tables its --help prints
# (`pinion __man [CMD]`), so they cannot drift from it; the completion scripts
# ask the binary for its commands and options.  `make uninstall` removes
# exactly what install wrote (the list of pages comes from the binary too).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
COMPLETION := assembler/cli/completion
man_pages = pinion.1 $(patsubst %,pinion-%.1,$(shell $(B)/pinion __complete commands))

man: $(B)/man/.stamp
$(B)/man/.stamp: $(B)/pinion
	@rm -rf $(B)/man && mkdir -p $(B)/man
	@echo "  MAN     $(B)/man"
	@$(B)/pinion __man >$(B)/man/pinion.1
	@for c in $$($(B)/pinion __complete commands); do \
		$(B)/pinion __man $$c >$(B)/man/pinion-$$c.1 || exit 1; done
	@touch $@

install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 $(B)/pinion $(DESTDIR)$(BINDIR)/pinion
	install -m 644 $(addprefix $(B)/man/,$(man_pages)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(COMPLETION)/pinion.bash $(DESTDIR)$(BASHCOMPDIR)/pinion
	install -m 644 $(COMPLETION)/_pinion $(DESTDIR)$(ZSHCOMPDIR)/_pinion

uninstall: $(B)/pinion
	rm -f $(DESTDIR)$(BINDIR)/pinion $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(man_pages)) \
		$(DESTDIR)$(BASHCOMPDIR)/pinion $(DESTDIR)$(ZSHCOMPDIR)/_pinion

format:
	clang-format -i $(SRCS) $(MAIN_SRC) $(wildcard */*.h) $(UNIT_SRCS) $(FUZZ_SRCS)
format-check:
	@clang-format --dry-run --Werror $(SRCS) $(MAIN_SRC) $(wildcard */*.h) $(UNIT_SRCS) $(FUZZ_SRCS)

clean:
	rm -rf build

.PRECIOUS: $(B)/%.o $(B)/lib/%.a
-include $(shell find $(B) -name '*.d' 2>/dev/null)
