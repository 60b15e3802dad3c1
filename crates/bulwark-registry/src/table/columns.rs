//! Column definitions (`metav1.TableColumnDefinition`) and their descriptions.
//!
//! Upstream takes most descriptions from the Go types' swagger docs. The same text is in the
//! OpenAPI descriptions k8s-openapi carries in its schemars schemas, so a column names the type
//! and field it documents and the text is read from there rather than copied here.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};

/// The JSON type of a column's cells, as kubectl reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CellType {
    String,
    Integer,
    Boolean,
    Date,
}

impl CellType {
    fn as_str(self) -> &'static str {
        match self {
            CellType::String => "string",
            CellType::Integer => "integer",
            CellType::Boolean => "boolean",
            CellType::Date => "date",
        }
    }
}

/// Where a column's description comes from.
#[derive(Clone, Copy)]
pub(super) enum Description {
    Text(&'static str),
    /// The OpenAPI description of `field` in the schema the function produces.
    Field(fn(&mut SchemaGenerator) -> Schema, &'static str),
}

/// One column of a kind's table.
#[derive(Clone, Copy)]
pub(super) struct Column {
    pub name: &'static str,
    pub cell_type: CellType,
    /// `name` marks the column holding the object's name; empty otherwise.
    pub format: &'static str,
    /// 0 is always shown; 1 only with `-o wide`.
    pub priority: u8,
    pub description: Description,
}

impl Column {
    pub const fn new(name: &'static str, cell_type: CellType, description: Description) -> Column {
        Column {
            name,
            cell_type,
            format: "",
            priority: 0,
            description,
        }
    }

    /// A string column.
    pub const fn text(name: &'static str, description: Description) -> Column {
        Column::new(name, CellType::String, description)
    }

    /// Shown only with `-o wide`.
    pub const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }

    /// The column kubectl takes the object's name from.
    pub const fn named(self) -> Column {
        Column {
            format: "name",
            ..self
        }
    }
}

/// The description of `field` in the OpenAPI schema of `T`.
pub(super) const fn field_of<T: JsonSchema>(field: &'static str) -> Description {
    Description::Field(T::json_schema, field)
}

/// The `Name` column every kind starts with.
pub(super) const NAME: Column = Column::text("Name", field_of::<ObjectMeta>("name")).named();

/// The `Age` column, from `metadata.creationTimestamp`.
pub(super) const AGE: Column = Column::text("Age", field_of::<ObjectMeta>("creationTimestamp"));

pub(super) const CONTAINERS: Column = Column::text(
    "Containers",
    Description::Text("Names of each container in the template."),
)
.wide();

pub(super) const IMAGES: Column = Column::text(
    "Images",
    Description::Text("Images referenced by each container in the template."),
)
.wide();

/// Renders columns as `metav1.TableColumnDefinition` JSON. Builds schemas, so callers cache it.
pub(super) fn render(columns: &[Column]) -> Vec<Value> {
    let mut generator = SchemaGenerator::default();
    columns
        .iter()
        .map(|column| {
            json!({
                "name": column.name,
                "type": column.cell_type.as_str(),
                "format": column.format,
                "description": describe(&mut generator, column.description),
                "priority": column.priority,
            })
        })
        .collect()
}

fn describe(generator: &mut SchemaGenerator, description: Description) -> String {
    match description {
        Description::Text(text) => text.to_string(),
        Description::Field(schema, field) => schema(generator)
            .get("properties")
            .and_then(|properties| properties.get(field))
            .and_then(|property| property.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_descriptions_come_from_the_openapi_schema() {
        let rendered = render(&[NAME, AGE.wide()]);
        let name = rendered[0]["description"].as_str().unwrap_or_default();
        assert!(
            name.starts_with("Name must be unique within a namespace."),
            "{name}"
        );
        assert_eq!(rendered[0]["format"], "name");
        assert_eq!(rendered[1]["priority"], 1);
        let age = rendered[1]["description"].as_str().unwrap_or_default();
        assert!(age.starts_with("CreationTimestamp is a timestamp"), "{age}");
    }
}
