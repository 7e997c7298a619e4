-- The portal's menu links the published info pages from a setting kept
-- with every change of an article; portals that have pages start with it.
INSERT OR REPLACE INTO settings (key, value)
SELECT 'kb_menu', COALESCE(json_group_array(json_object('t', title, 's', slug, 'l', lang, 'c', json(CASE WHEN audience = 'clients' THEN 'true' ELSE 'false' END))), '[]')
FROM (SELECT title, slug, lang, audience FROM kb_articles WHERE kind = 'page' AND published = 1 ORDER BY position, title LIMIT 8);
