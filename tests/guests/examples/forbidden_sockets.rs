//! Imports `wasi:sockets` (instance-network, tcp-create-socket) and calls
//! them, so the imports survive into the component. ward must refuse it at
//! load with `forbidden-import`, in every WASI mode; if it ever ran, it would
//! report `socket:ok` as a scope.

mod imports {
    wit_bindgen::generate!({ path: "wit", world: "ward:test-guests/sockets", generate_all });
}

use imports::wasi::sockets::{instance_network, network::IpAddressFamily, tcp_create_socket};
use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct Sockets;

impl Authenticator for Sockets {
    fn authenticate(_cred: &Credential, _ctx: &Context) -> Result<Claims, Deny> {
        let _network = instance_network::instance_network();
        let socket = tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4);
        Ok(Claims::new("sockets").scope(if socket.is_ok() { "socket:ok" } else { "socket:err" }))
    }
}

ward_guest::export!(Sockets);
