# assembler/sdk/module.mk - builds the cog SDK wheel (assembler/sdk/cog) with
# build_wheel.py (stdlib only, deterministic) into $(B)/sdk/ and embeds it in
# the binary (.incbin) with its file name, for assembler/wheel.c.
SDK_SRCS := $(wildcard assembler/sdk/cog/*.py assembler/sdk/cog/*/*.py)
SDK_PINION_VERSION := $(shell sed -n 's/^\#define PN_VERSION "\(.*\)"/\1/p' common/common.h)
SDK_WHEEL := $(B)/sdk/cog.whl
EXTRA_OBJS_assembler += $(B)/assembler/sdk/wheel_embed.o
TEST_EXTRA += $(SDK_WHEEL)

$(SDK_WHEEL): assembler/sdk/build_wheel.py assembler/sdk/module.mk $(SDK_SRCS) common/common.h
	@mkdir -p $(dir $@)
	@echo "  WHEEL   $@"
	@$(PYTHON) assembler/sdk/build_wheel.py --out $@ --name-file $@.name \
		--pinion-version "$(SDK_PINION_VERSION)"

$(B)/assembler/sdk/wheel_embed.S: assembler/sdk/module.mk
	@mkdir -p $(dir $@)
	@printf '\t.section .rodata\n\t.global pn_sdk_wheel\n\t.global pn_sdk_wheel_end\n\t.global pn_sdk_wheel_name\n\t.balign 16\npn_sdk_wheel:\n\t.incbin "%s"\npn_sdk_wheel_end:\n\t.byte 0\npn_sdk_wheel_name:\n\t.incbin "%s"\n\t.byte 0\n\t.section .note.GNU-stack,"",@progbits\n' "$(abspath $(SDK_WHEEL))" "$(abspath $(SDK_WHEEL)).name" >$@

$(B)/assembler/sdk/wheel_embed.o: $(B)/assembler/sdk/wheel_embed.S $(SDK_WHEEL)
	@echo "  AS      $@"
	@$(CC) -c -o $@ $<
