DROP TABLE rectification_opinions;
DROP TABLE rectification_notes;
DROP TABLE rectifications;
