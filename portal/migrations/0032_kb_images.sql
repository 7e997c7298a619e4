-- Images uploaded into knowledge-base articles: kept under the portal's
-- files like attachments (and counted with them against the disk quota),
-- served at an unguessable address to whoever may read their article.
CREATE TABLE kb_images (
    id           INTEGER PRIMARY KEY,
    article_id   INTEGER NOT NULL REFERENCES kb_articles (id),
    token        TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    path         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX kb_images_article ON kb_images (article_id);
