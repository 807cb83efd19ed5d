"""The official element layer: Metas and Types shipped with jitlite."""
