//! The operator's flavor catalogue (Octavia API 2.6): flavor profiles and
//! flavors. Writes are the operator's (`admin_only`); everyone reads,
//! since a tenant picks a flavor by id when it creates a load balancer.
//! The rules are `weir_core::flavor`'s; in-use counts are read in the
//! write's own transaction.

use weir_core::flavor::{self, Flavor, FlavorProfile, FlavorSpec, ProfileSpec};

use super::*;

impl Control {
    /// Creates a flavor profile (admin).
    pub async fn create_flavor_profile(
        &self,
        principal: &Principal,
        spec: ProfileSpec,
    ) -> ControlResult<FlavorProfile> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let profile = flavor::plan_profile(&spec, &mut UuidIds, now())?;
            tx.insert_flavor_profile(&profile).await?;
            Ok(profile)
        })
    }

    /// Lists flavor profiles (admin: they are the provider's settings).
    pub async fn list_flavor_profiles(
        &self,
        principal: &Principal,
    ) -> ControlResult<Vec<FlavorProfile>> {
        Self::admin_only(principal)?;
        Ok(self.reader().await?.flavor_profiles().await?)
    }

    /// One flavor profile (admin).
    pub async fn get_flavor_profile(
        &self,
        principal: &Principal,
        id: &FlavorProfileId,
    ) -> ControlResult<FlavorProfile> {
        Self::admin_only(principal)?;
        let found = self.reader().await?.flavor_profile(id).await?;
        Ok(found.ok_or_else(|| Error::not_found(ResourceKind::FlavorProfile, id))?)
    }

    /// Changes a flavor profile (admin); its provider and data stay while
    /// a flavor uses it.
    pub async fn update_flavor_profile(
        &self,
        principal: &Principal,
        id: FlavorProfileId,
        spec: ProfileSpec,
    ) -> ControlResult<FlavorProfile> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let current = tx
                .flavor_profile(&id)
                .await?
                .ok_or_else(|| Error::not_found(ResourceKind::FlavorProfile, &id))?;
            let using = tx.count_flavors_of_profile(&id).await?;
            let next = flavor::plan_profile_update(&current, &spec, using, now())?;
            if next != current {
                tx.update_flavor_profile(&next).await?;
            }
            Ok(next)
        })
    }

    /// Deletes a flavor profile no flavor uses (admin).
    pub async fn delete_flavor_profile(
        &self,
        principal: &Principal,
        id: FlavorProfileId,
    ) -> ControlResult<()> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let current = tx
                .flavor_profile(&id)
                .await?
                .ok_or_else(|| Error::not_found(ResourceKind::FlavorProfile, &id))?;
            let using = tx.count_flavors_of_profile(&id).await?;
            flavor::check_profile_deletable(&current, using)?;
            tx.delete_flavor_profile(&current).await?;
            Ok(())
        })
    }

    /// Creates a flavor of an existing profile (admin).
    pub async fn create_flavor(
        &self,
        principal: &Principal,
        spec: FlavorSpec,
    ) -> ControlResult<Flavor> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let profile = match &spec.profile_id {
                Some(id) => tx.flavor_profile(id).await?,
                None => None,
            };
            let made = flavor::plan_flavor(&spec, profile.as_ref(), &mut UuidIds, now())?;
            tx.insert_flavor(&made).await?;
            Ok(made)
        })
    }

    /// Lists flavors (everyone: a tenant picks one by id).
    pub async fn list_flavors(&self, _principal: &Principal) -> ControlResult<Vec<Flavor>> {
        Ok(self.reader().await?.flavors().await?)
    }

    /// One flavor (everyone).
    pub async fn get_flavor(&self, _principal: &Principal, id: &FlavorId) -> ControlResult<Flavor> {
        let found = self.reader().await?.flavor(id).await?;
        Ok(found.ok_or_else(|| flavor::flavor_not_found(id.as_str()))?)
    }

    /// Changes a flavor's name, description or enabled flag (admin).
    pub async fn update_flavor(
        &self,
        principal: &Principal,
        id: FlavorId,
        spec: FlavorSpec,
    ) -> ControlResult<Flavor> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let current = tx
                .flavor(&id)
                .await?
                .ok_or_else(|| flavor::flavor_not_found(id.as_str()))?;
            let next = flavor::plan_flavor_update(&current, &spec, now())?;
            if next != current {
                tx.update_flavor(&next).await?;
            }
            Ok(next)
        })
    }

    /// Deletes a flavor no load balancer uses (admin).
    pub async fn delete_flavor(&self, principal: &Principal, id: FlavorId) -> ControlResult<()> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let current = tx
                .flavor(&id)
                .await?
                .ok_or_else(|| flavor::flavor_not_found(id.as_str()))?;
            let using = tx.count_load_balancers_of_flavor(&id).await?;
            flavor::check_flavor_deletable(&current, using)?;
            tx.delete_flavor(&current).await?;
            Ok(())
        })
    }
}
