"""The JSON API: routes, schemas, presenters and exports."""
