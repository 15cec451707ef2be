# compat/module.mk - embeds compat/data/*.tsv into the binary (.incbin).
COMPAT_DATA := $(wildcard compat/data/*.tsv)
EXTRA_OBJS_compat += $(B)/compat/data_embed.o

$(B)/compat/data_embed.S: compat/module.mk
	@mkdir -p $(dir $@)
	@{ for n in torch tf cuda; do \
		printf '\t.section .rodata\n\t.global compat_data_%s\n\t.global compat_data_%s_end\n' $$n $$n; \
		printf '\t.balign 16\ncompat_data_%s:\n\t.incbin "%s/compat/data/%s.tsv"\ncompat_data_%s_end:\n\t.byte 0\n' $$n "$(CURDIR)" $$n $$n; \
	done; printf '\t.section .note.GNU-stack,"",@progbits\n'; } >$@

$(B)/compat/data_embed.o: $(B)/compat/data_embed.S $(COMPAT_DATA)
	@echo "  AS      $@"
	@$(CC) -c -o $@ $<
