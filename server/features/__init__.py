"""Our OGC API - Features provider: PostGIS builds the GeoJSON, Python only frames it.

A theme's collection is described once (collection.py, from its protocol); requests are parsed
into a FeatureRequest (params.py, cql.py, crs.py), turned into parameterised SQL (sql.py) and run
on a per-process connection pool (store.py). pygeoapi reaches it through provider.py; the JSON
routes in routes.py answer the busy requests directly and leave everything else to pygeoapi.
"""
