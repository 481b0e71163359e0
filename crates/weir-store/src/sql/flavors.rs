//! Flavor profiles and flavors (the operator's catalogue): their rows,
//! logged as catalogue changes. [`StoreTx`] in `writes` delegates here.

use super::*;

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn insert_flavor_profile_row(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.exec(
            "INSERT INTO flavor_profiles (id, name, provider, data, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                p.id.as_str(),
                &p.name,
                &p.provider,
                &p.data,
                p.created_at.millis(),
                p.updated_at.millis(),
            ],
        )
        .await?;
        self.log_catalogue("flavor_profile", p.id.as_str(), "create")
            .await
    }

    pub(super) async fn update_flavor_profile_row(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.exec(
            "UPDATE flavor_profiles SET name = $1, provider = $2, data = $3, updated_at = $4 \
             WHERE id = $5",
            args![
                &p.name,
                &p.provider,
                &p.data,
                p.updated_at.millis(),
                p.id.as_str()
            ],
        )
        .await?;
        self.log_catalogue("flavor_profile", p.id.as_str(), "update")
            .await
    }

    pub(super) async fn delete_flavor_profile_row(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.exec(
            "DELETE FROM flavor_profiles WHERE id = $1",
            args![p.id.as_str()],
        )
        .await?;
        self.log_catalogue("flavor_profile", p.id.as_str(), "delete")
            .await
    }

    pub(super) async fn insert_flavor_row(&mut self, f: &Flavor) -> StoreResult<()> {
        self.exec(
            "INSERT INTO flavors (id, name, description, profile_id, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                f.id.as_str(),
                &f.name,
                &f.description,
                f.profile_id.as_str(),
                f.enabled,
                f.created_at.millis(),
                f.updated_at.millis(),
            ],
        )
        .await?;
        self.log_catalogue("flavor", f.id.as_str(), "create").await
    }

    pub(super) async fn update_flavor_row(&mut self, f: &Flavor) -> StoreResult<()> {
        self.exec(
            "UPDATE flavors SET name = $1, description = $2, enabled = $3, updated_at = $4 \
             WHERE id = $5",
            args![
                &f.name,
                &f.description,
                f.enabled,
                f.updated_at.millis(),
                f.id.as_str()
            ],
        )
        .await?;
        self.log_catalogue("flavor", f.id.as_str(), "update").await
    }

    pub(super) async fn delete_flavor_row(&mut self, f: &Flavor) -> StoreResult<()> {
        self.exec("DELETE FROM flavors WHERE id = $1", args![f.id.as_str()])
            .await?;
        self.log_catalogue("flavor", f.id.as_str(), "delete").await
    }
}
