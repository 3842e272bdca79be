"""Images and audio: what a file is (`sniff`), checking it against the limits and decoding it
(`inspect`)."""
