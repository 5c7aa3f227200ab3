"""The verdict history in SQLite: schema, the writer's store and task, the readers."""
