// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Anchor: the latest signed checkpoint (tree size, root hash) of each tenant's
/// transparency log, written only by the account that deployed the contract.
contract Anchor {
    struct Head {
        uint64 treeSize;
        bytes32 rootHash;
    }

    address public immutable owner;
    mapping(bytes32 => Head) private heads;

    event Anchored(bytes32 indexed tenant, uint64 treeSize, bytes32 rootHash);

    constructor() {
        owner = msg.sender;
    }

    /// Record a checkpoint of `tenant`'s log. A smaller tree size than the stored one is
    /// refused, and so is the stored size with another root (a log never shrinks or forks).
    function anchor(bytes32 tenant, uint64 treeSize, bytes32 rootHash) external {
        require(msg.sender == owner, "only the owner anchors");
        Head storage head = heads[tenant];
        require(treeSize >= head.treeSize, "tree size smaller than the anchored one");
        require(
            treeSize != head.treeSize || rootHash == head.rootHash || head.rootHash == bytes32(0),
            "another root at the anchored size"
        );
        head.treeSize = treeSize;
        head.rootHash = rootHash;
        emit Anchored(tenant, treeSize, rootHash);
    }

    /// The latest anchored (tree size, root hash) of `tenant`; (0, 0) before the first.
    function latest(bytes32 tenant) external view returns (uint64 treeSize, bytes32 rootHash) {
        Head storage head = heads[tenant];
        return (head.treeSize, head.rootHash);
    }
}
