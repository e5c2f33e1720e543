complete --keep-order --exclusive --command dctx --arguments "(COMPLETE=fish dctx -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
