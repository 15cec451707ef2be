# assembler/module.mk - embeds tini-static into the binary (.incbin), so that
# the tini layer (/sbin/tini) is written without network access.
# TINI_STATIC may point at another static tini build.
TINI_STATIC ?= /usr/bin/tini-static
EXTRA_OBJS_assembler += $(B)/assembler/tini_embed.o

$(B)/assembler/tini_embed.S: assembler/module.mk
	@mkdir -p $(dir $@)
	@printf '\t.section .rodata\n\t.global pn_tini_static\n\t.global pn_tini_static_end\n\t.balign 16\npn_tini_static:\n\t.incbin "%s"\npn_tini_static_end:\n\t.section .note.GNU-stack,"",@progbits\n' "$(TINI_STATIC)" >$@

$(B)/assembler/tini_embed.o: $(B)/assembler/tini_embed.S $(TINI_STATIC)
	@echo "  AS      $@"
	@$(CC) -c -o $@ $<
