//! The flavor catalogue through `Control`, on a real store (SQLite, or
//! PostgreSQL with `WEIR_TEST_STORE=postgres`): writes are the operator's,
//! reads everyone's; a flavor in use by a load balancer, and a profile in
//! use by a flavor, are held; a load balancer keeps the flavor it was
//! created with, and only an enabled one is taken.

use weir_control::{Control, ControlError, Principal};
use weir_core::flavor::{CapabilityValue, FlavorData, FlavorSpec, ProfileSpec};
use weir_core::inventory::{NewSubnet, NewVpc};
use weir_core::loadbalancer::NewLoadBalancer;
use weir_core::settings::Settings;
use weir_core::Error;
use weir_store::sqlite::Durability;

fn single() -> FlavorData {
    FlavorData {
        text: r#"{"loadbalancer_topology": "SINGLE"}"#.into(),
        entries: vec![(
            "loadbalancer_topology".into(),
            CapabilityValue::Text("SINGLE".into()),
        )],
    }
}

#[tokio::test]
async fn the_flavor_catalogue_is_the_operators_and_holds_what_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = weir_store::testing::store(&dir.path().join("f.db"), Durability::Normal).await;
    let control = Control::start(store, Settings::default(), "admin".into())
        .await
        .unwrap();
    let admin = Principal::Admin;
    let project = control
        .create_project(&admin, "p".into())
        .await
        .unwrap()
        .project;
    let tenant = Principal::Project(project.id.clone());
    let revision = control.revision();

    // A tenant can neither make a profile nor read one; nothing is written.
    let spec = ProfileSpec {
        name: Some("single".into()),
        provider: Some("weir".into()),
        data: Some(single()),
    };
    let before = *revision.borrow();
    assert!(matches!(
        control.create_flavor_profile(&tenant, spec.clone()).await,
        Err(ControlError::AdminOnly)
    ));
    assert!(matches!(
        control.list_flavor_profiles(&tenant).await,
        Err(ControlError::AdminOnly)
    ));
    assert_eq!(*revision.borrow(), before);

    let profile = control
        .create_flavor_profile(&admin, spec.clone())
        .await
        .unwrap();
    assert_eq!(profile.data, r#"{"loadbalancer_topology": "SINGLE"}"#);
    // A topology Weir cannot run is the provider's "unsupported".
    let standby = ProfileSpec {
        data: Some(FlavorData {
            text: r#"{"loadbalancer_topology": "ACTIVE_STANDBY"}"#.into(),
            entries: vec![(
                "loadbalancer_topology".into(),
                CapabilityValue::Text("ACTIVE_STANDBY".into()),
            )],
        }),
        ..spec.clone()
    };
    assert!(matches!(
        control.create_flavor_profile(&admin, standby).await,
        Err(ControlError::Domain(Error::Unsupported { .. }))
    ));
    assert_eq!(control.list_flavor_profiles(&admin).await.unwrap().len(), 1);

    let flavor_spec = FlavorSpec {
        name: Some("small".into()),
        description: Some("one data plane".into()),
        profile_id: Some(profile.id.clone()),
        enabled: None,
    };
    assert!(matches!(
        control.create_flavor(&tenant, flavor_spec.clone()).await,
        Err(ControlError::AdminOnly)
    ));
    let flavor = control
        .create_flavor(&admin, flavor_spec.clone())
        .await
        .unwrap();
    assert!(flavor.enabled);
    // Everyone reads flavors.
    assert_eq!(
        control.get_flavor(&tenant, &flavor.id).await.unwrap(),
        flavor
    );
    assert_eq!(
        control.list_flavors(&tenant).await.unwrap(),
        vec![flavor.clone()]
    );

    // The profile is now in use: its data stays, and it stays.
    let redata = ProfileSpec {
        data: Some(single()),
        ..ProfileSpec::default()
    };
    assert!(matches!(
        control
            .update_flavor_profile(&admin, profile.id.clone(), redata)
            .await,
        Err(ControlError::Domain(Error::Conflict { .. }))
    ));
    assert!(matches!(
        control
            .delete_flavor_profile(&admin, profile.id.clone())
            .await,
        Err(ControlError::Domain(Error::Conflict { .. }))
    ));

    // A load balancer made with the flavor keeps it; the flavor is held.
    let vpc = control
        .create_vpc(
            &admin,
            project.id.clone(),
            NewVpc {
                name: "v".into(),
                cidr: "10.0.0.0/16".into(),
                has_border_gateway: false,
                shared: false,
            },
        )
        .await
        .unwrap();
    let subnet = control
        .create_subnet(
            &admin,
            vpc.id.clone(),
            NewSubnet {
                name: "s".into(),
                cidr: "10.0.1.0/24".into(),
            },
        )
        .await
        .unwrap();
    let new_lb = |flavor_id| NewLoadBalancer {
        name: "lb".into(),
        flavor_id,
        ..NewLoadBalancer::default()
    };
    let lb = control
        .create_load_balancer(&tenant, subnet.id.clone(), new_lb(Some(flavor.id.clone())))
        .await
        .unwrap();
    assert_eq!(lb.flavor_id.as_ref(), Some(&flavor.id));
    let stored = control.get_load_balancer(&tenant, &lb.id).await.unwrap();
    assert_eq!(stored.flavor_id.as_ref(), Some(&flavor.id));
    assert!(matches!(
        control.delete_flavor(&admin, flavor.id.clone()).await,
        Err(ControlError::Domain(Error::Conflict { .. }))
    ));

    // An unknown or disabled flavor is refused, and nothing is made.
    let count = control.list_load_balancers(&tenant).await.unwrap().len();
    assert!(matches!(
        control
            .create_load_balancer(&tenant, subnet.id.clone(), new_lb(Some("nope".into())))
            .await,
        Err(ControlError::Domain(Error::InvalidField { .. }))
    ));
    let disabled = control
        .update_flavor(
            &admin,
            flavor.id.clone(),
            FlavorSpec {
                enabled: Some(false),
                ..FlavorSpec::default()
            },
        )
        .await
        .unwrap();
    assert!(!disabled.enabled);
    assert!(matches!(
        control
            .create_load_balancer(&tenant, subnet.id.clone(), new_lb(Some(flavor.id.clone())))
            .await,
        Err(ControlError::Domain(Error::InvalidField { .. }))
    ));
    assert_eq!(
        control.list_load_balancers(&tenant).await.unwrap().len(),
        count
    );

    // Once the load balancer is gone, the flavor and then its profile go.
    control
        .delete_load_balancer(&tenant, lb.id.clone(), false)
        .await
        .unwrap();
    control
        .delete_flavor(&admin, flavor.id.clone())
        .await
        .unwrap();
    assert!(matches!(
        control.get_flavor(&tenant, &flavor.id).await,
        Err(ControlError::Domain(Error::NotFound { .. }))
    ));
    control
        .delete_flavor_profile(&admin, profile.id.clone())
        .await
        .unwrap();
    assert!(control
        .list_flavor_profiles(&admin)
        .await
        .unwrap()
        .is_empty());
}
