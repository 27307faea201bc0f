"""JSON routes of the API, one module per resource; `service.routers` lists what the app includes."""
