"""NetNN (chapter 05): an intrusion detector trained in torch, quantised to switch integer
arithmetic, split across programmable switches, emitted as P4 and run packet by packet."""
