-- Whether each person has dismissed the first-login tour of their screens.
ALTER TABLE users ADD COLUMN tour_done INTEGER NOT NULL DEFAULT 0;
